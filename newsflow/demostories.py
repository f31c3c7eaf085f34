"""Hand-written story material for the demo news site (``newsflow.demosite``).

Every person, place and organisation here is invented; the texts were written for this project
so the demo site carries no third-party text. Each story has a headline, an alternative headline
(what a newspaper that syndicates the wire copy prints instead), a byline, a dateline place, a
photo caption and four to eight paragraphs. Quotes are written with straight double quotes; the
site generator curls them on originals and leaves them straight on wire copies.

Two stories (``fire-eastmere-herald`` and ``fire-eastmere-gazette``) report the same event
independently: they must stay two stories after dedupe. ``FINANCE_DISCLAIMER`` is the long
boilerplate paragraph one outlet appends to every finance article, another must-not-merge case.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseStory:
    key: str
    topic: str
    title: str
    alt_title: str
    byline: str
    dateline: str
    caption: str
    paragraphs: tuple[str, ...]


def _story(
    key: str, topic: str, title: str, alt_title: str, byline: str, dateline: str, caption: str,
    text: str,
) -> BaseStory:
    paragraphs = tuple(" ".join(p.split()) for p in text.strip().split("\n\n"))
    return BaseStory(key, topic, title, alt_title, byline, dateline, caption, paragraphs)


FINANCE_DISCLAIMER = (
    "This article is provided for general information only and does not constitute investment, "
    "tax or legal advice. Metro Ledger and its contributors may hold positions in the securities "
    "or funds mentioned. Past performance is not a reliable indicator of future results, and the "
    "value of investments can fall as well as rise. Readers should consult a regulated adviser "
    "before making any financial decision, and should not rely on this article as the sole basis "
    "for any investment."
)

# Keys of the two independent reports of the same event.
SAME_EVENT = ("fire-eastmere-herald", "fire-eastmere-gazette")

STORIES: tuple[BaseStory, ...] = (
    _story(
        "bridge-vote", "politics",
        "Calder Valley council approves new river bridge after eight-year delay",
        "Councillors finally back Calder river crossing",
        "Miriam Okafor", "PORT ANSEL",
        "The existing single-lane crossing at Millford, which the new bridge will replace",
        """
        Calder Valley's regional council voted 31 to 9 on Tuesday to build a second road bridge
        over the Calder river, ending eight years of argument over its cost and its route.

        The two-lane crossing, which will run from the old tannery site at Millford to the
        industrial estate on the southern bank, is expected to cost 148 million crowns. Work could
        begin next spring if the national transport fund confirms its share of the money.

        "People have waited long enough," said council leader Tomasz Brennan, who has campaigned
        for the bridge since he was first elected. "Every morning the queue at the old crossing
        stretches back to the railway station. This vote ends that."

        Opponents argued that the money would be better spent on buses and on repairs to the
        existing bridge, which was closed for six weeks last winter after engineers found cracks
        in two of its supports.

        "We are building for the traffic of the 1990s," said councillor Hanna Lindqvist of the
        Green Valley group, which voted against. "In ten years we will wonder why we did it."

        The council said that a cycle lane and a footpath would be part of the design and that
        residents on the southern bank would be consulted on the approach roads before the end of
        the year.
        """,
    ),
    _story(
        "heatwave-warning", "weather",
        "Forecasters issue first amber heat warning of the summer for the southern coast",
        "Amber heat alert as temperatures head for 36C",
        "Daniel Abara", "SELWICK",
        "Beachgoers at Selwick harbour on Sunday afternoon",
        """
        The national weather office issued an amber heat warning for the southern coast on
        Wednesday, with temperatures expected to reach 36C in parts of Selwick and the Orne
        estuary by the weekend.

        It is the first amber warning of the summer and comes three weeks earlier than last year.
        Forecasters said a slow-moving area of high pressure would keep skies clear and nights
        unusually warm until at least Monday.

        Health officials urged people to check on elderly neighbours, to keep curtains closed during
        the hottest part of the day and to avoid strenuous exercise between 11am and 4pm.

        "The nights are the real danger," said Dr Leona Fairweather, a public health consultant
        for the coastal district. "When the temperature does not fall below 20 degrees, the body
        never gets the chance to recover."

        Water companies asked customers not to use hosepipes to fill paddling pools and said that
        demand had risen by a quarter since Friday. Several town councils said they would open
        libraries and community halls as cool rooms.
        """,
    ),
    _story(
        "museum-reopens", "culture",
        "Harlow Bay maritime museum reopens after a three-year restoration",
        "Restored maritime museum opens its doors again",
        "Sofia Marchetti", "HARLOW BAY",
        "The restored figurehead of the schooner Margaret Ellen in the museum's main hall",
        """
        The Harlow Bay maritime museum reopened to the public on Saturday after a restoration that
        took three years and repaired damage left by the storm surge of two winters ago.

        More than 2,000 visitors queued along the harbour wall for the first tour of the new
        galleries, which include the restored figurehead of the schooner Margaret Ellen and a
        reconstructed ship's galley visitors can walk through.

        "We lost part of the roof and almost the entire basement archive," said the museum's
        director, Pieter Vandermolen. "For a while we were not sure we would open again at all."

        Volunteers spent eighteen months drying and cataloguing more than 40,000 documents,
        including ship logs, crew lists and letters written by sailors to their families.

        The museum will be free for local residents until the end of the year. A new education
        wing, paid for by a grant from the coastal heritage trust, will open to school groups in
        the autumn.
        """,
    ),
    _story(
        "rail-strike", "transport",
        "Rail workers announce two-day strike over new rostering rules",
        "Train services face disruption as staff walk out",
        "Grace Whitfield", "EASTMERE",
        "An empty platform at Eastmere Central during the last walkout in March",
        """
        Train drivers and guards on the Northern Line network will strike for 48 hours next week
        in a dispute over rostering rules that the union says would force staff to work more
        weekends.

        The Rail and Transport Workers' Union said 84 per cent of members who voted backed the
        action, on a turnout of 71 per cent. The operator, Northline Rail, said it would run a
        reduced timetable on the main routes but warned that most rural services would be
        cancelled.

        "Nobody wants to strike, but our members have been given no choice," said the union's
        regional organiser, Callum Reid. "The company wants to tear up an agreement that has
        worked for twenty years."

        Northline Rail said the new rules were needed to cover the extra Sunday services passengers
        had asked for and that no driver would work more hours in total.

        Passengers with tickets for the strike days will be able to use them the day before or up
        to two days after, or claim a full refund.
        """,
    ),
    _story(
        "school-meals", "education",
        "Free school lunches to be extended to all primary pupils in Westbrook",
        "Every Westbrook primary pupil to get free lunch",
        "Aisha Demir", "WESTBROOK",
        "Pupils at Elmfield primary school queue for lunch",
        """
        Every primary school pupil in Westbrook will receive a free hot lunch from September,
        the district's education board announced on Monday.

        The scheme, which will cost about 6.2 million crowns a year, extends a programme that had
        been limited to children from low-income families. Around 14,500 pupils at 38 schools will
        be eligible.

        Board chair Ruth Castellano said teachers had reported children arriving at school hungry
        and struggling to concentrate in afternoon lessons. "A full stomach is the cheapest
        learning aid there is," she said.

        Several head teachers welcomed the decision but warned that some older school kitchens
        would need new equipment before they could serve every pupil. The board said it had set
        aside 1.1 million crowns for kitchen repairs.

        Parents will not need to apply. Families whose children have allergies or special diets
        are asked to inform their school office before the end of term.
        """,
    ),
    _story(
        "startup-funding", "technology",
        "Port Ansel battery start-up raises 40 million to build its first factory",
        "Battery maker Ionvale lands funding for factory",
        "Marcus Lindgren", "PORT ANSEL",
        "Ionvale engineers test a sodium cell at the company's laboratory",
        """
        Ionvale, a Port Ansel start-up that makes batteries from sodium instead of lithium, has
        raised 40 million crowns to build its first factory, the company said on Thursday.

        The funding round was led by the Northern Growth Fund and includes money from two regional
        energy companies. Ionvale plans to convert a disused paper mill on the edge of the city
        and to employ about 300 people when production begins in two years.

        Chief executive Nadia Haddad said sodium batteries were heavier than lithium ones but far
        cheaper and easier to recycle, which made them suited to storing power from wind farms
        rather than powering cars.

        "Sodium is everywhere. It is in seawater," she said. "We do not need to depend on a handful
        of mines on the other side of the world."

        Analysts said the company would still need to prove it could manufacture at scale. Several
        battery start-ups in the region have collapsed after failing to move beyond pilot lines.
        """,
    ),
    _story(
        "flood-defences", "environment",
        "Work starts on 30 million flood wall to protect Orne estuary villages",
        "Orne estuary flood wall construction begins",
        "Thomas Achterberg", "ORNE",
        "The stretch of the Orne estuary where the flood wall will be built",
        """
        Construction began on Monday on a 3.4-kilometre flood wall that will protect four villages
        on the Orne estuary, where more than 200 homes flooded during the storm surge two winters
        ago.

        The wall, which will rise up to 2.5 metres above the current embankment, is expected to
        take two years to build and to cost 30 million crowns. It will be paired with a new pumping
        station at Lower Orne.

        "I still have the water line on my kitchen wall," said Brenda Halloway, who had to leave her
        home for nine months after the flood. "I will believe it when I see it finished, but this is
        a good day."

        The environment agency said the design had been changed after residents objected to the
        original plans, which would have blocked the view of the estuary from the village green.
        Part of the wall will now be made of glass panels.

        Some residents remain worried about traffic from construction lorries on the single road
        into the villages. The contractor has promised to avoid school hours.
        """,
    ),
    _story(
        "hospital-waiting", "health",
        "Waiting times at Eastmere hospital emergency department fall for third month",
        "Eastmere A&E waits improve again",
        "Priya Raman", "EASTMERE",
        "The emergency entrance of Eastmere General Hospital",
        """
        Patients at Eastmere General Hospital's emergency department waited less time to be seen in
        May than in any month for two years, according to figures published on Friday.

        Seventy-eight per cent of patients were treated, admitted or discharged within four hours,
        up from 69 per cent in February. The national target is 95 per cent.

        The hospital credited a new urgent treatment centre, opened in the spring, which now sees
        patients with minor injuries such as sprains and small cuts so they no longer queue in the
        main department.

        "Our staff have worked incredibly hard, but we are not celebrating yet," said the hospital's
        medical director, Dr Samuel Osei. "Winter will test whether these changes really hold."

        Patient groups welcomed the improvement but said that people waiting for a bed on a ward
        were still spending too long on trolleys in corridors.
        """,
    ),
    _story(
        "football-final", "sport",
        "Harlow Bay Rovers win the regional cup with a stoppage-time header",
        "Late header hands Rovers the regional cup",
        "Jonah Mbeki", "SELWICK",
        "Rovers players celebrate with the trophy at the Selwick Stadium",
        """
        Harlow Bay Rovers won the regional cup for the first time in 23 years on Saturday, beating
        Selwick Athletic 2-1 with a header from defender Luka Petrovic in the fourth minute of
        stoppage time.

        Athletic had equalised in the 81st minute through a penalty from their captain, Owen
        Garside, after Rovers had led since the first half through a low shot by Ibrahim Sesay.

        Petrovic, who had never scored for the club, rose above two defenders to meet a corner from
        the left. "I just closed my eyes and jumped," he said afterwards. "I am still shaking."

        More than 9,000 supporters travelled from Harlow Bay, and the club said an open-top bus
        parade would take the trophy along the seafront on Sunday afternoon.

        Rovers manager Elena Sørby, in her first season in charge, said the win belonged to the
        town. "This club nearly went out of business four years ago," she said. "Look at it now."
        """,
    ),
    _story(
        "library-closures", "politics",
        "Northwold plans to close five branch libraries to save money",
        "Five libraries at risk in Northwold budget plan",
        "Eleanor Voss", "NORTHWOLD",
        "Readers at the Kestrel Road branch library, one of the five facing closure",
        """
        Five of Northwold's eleven branch libraries could close next year under budget proposals
        published by the district council on Thursday.

        The council says it must save 12 million crowns over two years after its energy bills
        doubled and its grant from the national government was cut. Closing the branches would save
        about 900,000 crowns a year.

        The libraries earmarked for closure are among the least used, the council said, but
        campaigners pointed out that they are all in the district's poorer neighbourhoods.

        "For some people, the library is the only warm place with free internet," said Jasmine Cole,
        who runs a homework club at the Kestrel Road branch. "Closing it saves money on paper and
        costs it everywhere else."

        A public consultation runs until the end of next month. The council said it would consider
        handing some buildings to community groups to run with volunteers.

        The opposition group on the council said it would propose selling unused office space
        instead.
        """,
    ),
    _story(
        "wind-farm", "environment",
        "Offshore wind farm off Selwick approved despite fishing industry objections",
        "Selwick offshore wind scheme gets go-ahead",
        "Hugo Lambert", "SELWICK",
        "Fishing boats moored in Selwick harbour",
        """
        The national energy ministry approved a 64-turbine wind farm 20 kilometres off the Selwick
        coast on Wednesday, overruling objections from fishing crews who said it would close some
        of their best grounds.

        The project, developed by Blue Meridian Energy, is expected to generate enough electricity
        for around 600,000 homes when it is completed in 2028. Construction of the onshore
        substation will begin next year.

        The Selwick Fishermen's Association said the turbines would sit on sandbanks where its
        members catch sole and plaice. "They talk about green jobs, but they are taking ours," said
        its chair, Alfie Dunmore.

        Blue Meridian said it would pay into a compensation fund for affected crews and would allow
        static fishing gear between the turbines. The company also promised to base its maintenance
        boats in Selwick harbour, creating about 80 permanent jobs.

        Environmental groups broadly welcomed the decision but asked for more monitoring of seabirds
        that feed on the banks.
        """,
    ),
    _story(
        "court-fraud", "crime",
        "Former council finance officer jailed for taking 1.8 million from pension fund",
        "Ex-finance officer gets six years for pension fraud",
        "Rachel Dunford", "NORTHWOLD",
        "Northwold Crown Court",
        """
        A former finance officer at Northwold district council was jailed for six years on Friday
        after admitting that he moved 1.8 million crowns from the staff pension fund into his own
        accounts over seven years.

        Gerald Pike, 58, of Lowfield Road, made 212 transfers disguised as payments to a consultancy
        that did not exist, the court heard. The money was spent on two holiday homes, a boat and
        gambling.

        The fraud was discovered when a new auditor asked to see invoices from the consultancy.
        Pike resigned the following week and handed himself in to police a month later.

        Sentencing him, Judge Anita Kowalczyk said he had "betrayed the trust of colleagues who
        relied on him to look after their retirement." She said the sentence would have been longer
        without his guilty plea.

        The council said the pension fund had been repaid from its reserves and that no member had
        lost any money. Prosecutors have begun proceedings to recover the holiday homes.
        """,
    ),
    _story(
        "space-telescope", "science",
        "University team spots water vapour on a planet 120 light years away",
        "Astronomers detect water on distant world",
        "Ingrid Halvorsen", "EASTMERE",
        "An artist's impression of the planet passing in front of its star",
        """
        Astronomers at Eastmere University say they have detected water vapour in the atmosphere of
        a planet orbiting a red dwarf star 120 light years from Earth.

        The planet, about twice the size of Earth, passes in front of its star every 19 days. As it
        does, some of the starlight travels through its atmosphere, and the team measured which
        colours were absorbed.

        "The signal for water is unmistakable," said Professor Aleksander Novak, who led the study.
        "What we cannot yet say is whether it comes from an ocean or from a thick, hot steam
        atmosphere."

        The planet lies near the inner edge of its star's habitable zone, where temperatures could
        allow liquid water. But red dwarfs often throw out powerful flares that may strip planets
        of their air.

        The team has been awarded more telescope time next year to search for signs of carbon
        dioxide and methane. The results are published in the journal Planetary Atmospheres.
        """,
    ),
    _story(
        "housing-prices", "economy",
        "House prices in the northern region fall for the first time in a decade",
        "Northern house prices dip as mortgage costs bite",
        "Oliver Brandt", "PORT ANSEL",
        "Homes for sale in the Harbourside district of Port Ansel",
        """
        Average house prices in the northern region fell by 2.1 per cent in the year to April, the
        first annual fall in ten years, according to figures from the national statistics office.

        The average home now costs 312,000 crowns. Prices fell fastest in Port Ansel, down 4.3 per
        cent, while they were flat in rural districts where demand from people working from home
        has held up.

        Economists said higher mortgage rates were the main reason. The typical fixed-rate mortgage
        now costs 5.4 per cent a year, compared with under 2 per cent three years ago.

        "Buyers simply cannot borrow as much as they could," said Clara Jansen, chief economist at
        the Northern Building Society. "Sellers are having to accept that."

        Estate agents reported that the number of homes on the market has risen by a fifth, giving
        buyers more choice. First-time buyers, who had been priced out, made up a larger share of
        sales than at any time since 2015.
        """,
    ),
    _story(
        "bakery-award", "culture",
        "Small Millford bakery named best in the country by national guild",
        "Millford bakers take top national prize",
        "Beatrix Holm", "MILLFORD",
        "Anna and Josef Brenner in their bakery on Mill Street",
        """
        A two-person bakery in the village of Millford has been named the best in the country by the
        National Bakers' Guild, beating more than 600 entries.

        Anna and Josef Brenner opened Brenner's on Mill Street five years ago in a former post
        office.
        The judges praised their rye sourdough and a cardamom bun that now sells out by 9am most
        days.

        "We found out by email at four in the morning while we were shaping loaves," Anna Brenner
        said. "Josef had flour all over his phone."

        The couple bake everything in a wood-fired oven they built themselves from the bricks of an
        old farm building. They say they have no plans to open a second shop.

        Since the announcement, the bakery has received calls from across the country. It has asked
        customers to be patient and has started a waiting list for its weekend loaves.
        """,
    ),
    _story(
        "data-breach", "technology",
        "Regional energy supplier says hackers stole customer details",
        "Brightwell Energy confirms cyber attack",
        "Felix Armitage", "PORT ANSEL",
        "Brightwell Energy's headquarters in Port Ansel",
        """
        Brightwell Energy, which supplies gas and electricity to about 450,000 homes in the northern
        region, said on Monday that hackers had stolen the names, addresses and email addresses of
        some of its customers.

        The company said bank details and passwords were not taken, but warned customers to be wary
        of emails and phone calls claiming to come from Brightwell and asking for payment.

        The attack was discovered last Thursday when staff noticed unusual activity on a system
        used to send bills. Brightwell said it shut the system down within hours and called in
        outside investigators.

        "We are deeply sorry," said chief executive Morten Skaug. "We are contacting every customer
        who may have been affected directly."

        The national data protection authority said it had been informed and was making enquiries.
        Brightwell has not said how many customers were affected.
        """,
    ),
    _story(
        "marathon-record", "sport",
        "Course record falls at the Port Ansel marathon in cold, windless conditions",
        "Port Ansel marathon course record broken",
        "Jonah Mbeki", "PORT ANSEL",
        "Runners cross the Harbour Bridge in the opening miles",
        """
        Kenyan-born local runner Faith Wanjiru broke the Port Ansel marathon course record on
        Sunday, finishing in 2 hours 21 minutes and 40 seconds, more than a minute inside the old
        mark.

        Cold, still weather helped a field of 14,000 runners, and organisers said a record number
        finished the course. Wanjiru, who moved to the city as a student, ran the second half faster
        than the first.

        "I felt the wind would come at the harbour, but it never came," she said. "After 30
        kilometres I knew the record was possible, so I went."

        The men's race was won by Erik Nyström in 2:09:15. Organisers said 1.2 million crowns were
        raised for the city children's hospital.

        Roads in the city centre reopened by 3pm. Next year's race will move to a new route that
        avoids the industrial estate.
        """,
    ),
    _story(
        "water-leak", "politics",
        "Water company fined for losing a quarter of its supply to leaks",
        "Regulator fines Calder Water over leaks",
        "Miriam Okafor", "CALDER",
        "Engineers repair a burst main on the Calder ring road",
        """
        Calder Water has been fined 22 million crowns by the water regulator after failing to meet
        its leakage targets for the fourth year running.

        The company lost about 24 per cent of the water it treated through leaking pipes last year,
        according to the regulator, compared with a national average of 19 per cent.

        The regulator's chief executive, Deborah Ashworth, said customers had been "let down year
        after year" and that the fine could not be passed on through higher bills.

        Calder Water said it was replacing 300 kilometres of old pipe a year and had hired 120 extra
        leak detection staff. "We accept we have not moved fast enough," a spokesperson said.

        Campaign group River Watch said the fine was welcome but would not fix the pipes. It called
        for the company's bonuses to be stopped until the target was met.
        """,
    ),
    _story(
        "bird-return", "environment",
        "White storks nest in the Calder wetlands for the first time in 300 years",
        "Storks return to breed in Calder wetlands",
        "Ingrid Halvorsen", "CALDER",
        "One of the stork pairs on its nest above the reed beds",
        """
        A pair of white storks has built a nest and laid eggs in the Calder wetlands, the first
        time the birds are known to have bred in the region for about 300 years.

        The pair arrived in April and built a nest on top of a dead oak at the edge of the reed
        beds. Wardens at the wetland reserve say at least three eggs are being incubated.

        The storks are thought to come from a reintroduction project 200 kilometres to the south.
        One of the birds carries a ring fitted when it was a chick in 2021.

        "We have been hoping for this for years," said warden Isaac Mensah. "People have been
        coming with binoculars since dawn."

        The reserve has closed the footpath nearest the tree to avoid disturbing the birds and has
        set up a camera so visitors can watch the nest from the visitor centre.
        """,
    ),
    _story(
        "bus-fares", "transport",
        "Bus fares across the region capped at two crowns for a year",
        "Two-crown bus fare cap starts next month",
        "Grace Whitfield", "PORT ANSEL",
        "A number 14 bus on Harbour Street in Port Ansel",
        """
        Single bus fares on every route in the northern region will be capped at two crowns from
        next month, the regional transport authority said on Thursday.

        Some longer rural journeys currently cost more than eight crowns. The authority will pay
        bus companies the difference, at an estimated cost of 18 million crowns over the year.

        "We want people to try the bus again," said transport committee chair Dominic Fenwick.
        "Passenger numbers have still not recovered from the pandemic, and the price is a big part
        of that."

        Bus operators welcomed the scheme but said they would need more drivers if passenger
        numbers rose sharply. Two operators are already running reduced timetables because of
        staff shortages.

        The cap will be reviewed after six months. Day tickets and season tickets will also be cut
        in price.
        """,
    ),
    _story(
        "fire-eastmere-herald", "crime",
        "Grain warehouse destroyed in overnight fire at Eastmere docks",
        "Fire guts Eastmere dock warehouse",
        "Tobias Ferreira", "EASTMERE",
        "Smoke rises over the Eastmere docks on Tuesday morning",
        """
        A warehouse storing grain for export was destroyed by fire at Eastmere docks overnight,
        and firefighters were still damping down the site on Tuesday afternoon.

        Crews were called just after 1am and at the height of the blaze 14 engines and around 90
        firefighters were at the scene. Nobody was injured, the fire service said.

        Residents of the Quayside flats were told to keep their windows closed because of the smoke,
        which could be seen from the motorway eight kilometres away.

        Station manager Rosa Albrecht said the building's timber roof had collapsed within an hour.
        "Grain dust burns very fiercely," she said. "Our priority was to stop it spreading to the
        fuel store next door."

        The warehouse belonged to the Eastmere Grain Company, which said about 4,000 tonnes of wheat
        had been inside. The cause of the fire is being investigated.
        """,
    ),
    _story(
        "fire-eastmere-gazette", "crime",
        "Eastmere docks blaze: what we know about the warehouse fire",
        "Eastmere warehouse fire: the key questions",
        "Lena Kowalski", "EASTMERE",
        "Firefighters on a turntable ladder above the burning warehouse",
        """
        The fire that tore through a dockside grain store in Eastmere in the early hours of Tuesday
        has left the port's busiest export berth out of action, and the company that owns it says it
        is too early to know when trade will resume.

        Dock workers described seeing flames above the roof of shed number 7 shortly after one in
        the morning. By dawn only the steel frame was standing.

        Port authority spokesman Ivan Castellanos told this paper that ships due to load wheat this
        week would be diverted to Selwick. "We have a berth there and we will use it," he said.

        Fire investigators will examine the electrical systems, which the company's own records show
        were last inspected in 2019. Grain handlers say conveyor belts can overheat if they are not
        cleaned regularly.

        The shed was built in the 1960s and had been due for replacement next year. Union
        representatives said around 35 people work at the berth and asked for reassurances that
        their jobs were safe.

        Neighbours in the Quayside area complained of a smell of burnt bread that lingered into the
        afternoon.
        """,
    ),
    _story(
        "inflation", "economy",
        "Inflation falls to 3.1 per cent as food prices ease",
        "Food prices pull inflation down to 3.1%",
        "Oliver Brandt", "PORT ANSEL",
        "Shoppers at the Saturday market in Port Ansel",
        """
        The rate of inflation fell to 3.1 per cent in May from 3.8 per cent in April, helped by the
        smallest rise in food prices for two years, the national statistics office said on
        Wednesday.

        Prices of bread, milk and vegetables rose more slowly as the cost of fertiliser and energy
        for farmers came down. Clothing and furniture prices fell.

        But the cost of services, including rents, restaurant meals and car insurance, continued to
        climb, rising by 5.6 per cent over the year.

        "The easy part of bringing inflation down is over," said economist Katarina Lund of the
        Institute for Fiscal Research. "Service prices are driven by wages, and wages are still
        rising
        quickly."

        The central bank, which meets next month, has held interest rates at 4.75 per cent since the
        autumn. Markets now expect a first cut before the end of the year.
        """,
    ),
    _story(
        "robot-surgery", "health",
        "Selwick hospital performs its first robot-assisted knee replacement",
        "Robot helps surgeons replace knee in Selwick",
        "Priya Raman", "SELWICK",
        "The robotic arm in the operating theatre at Selwick Royal Infirmary",
        """
        Surgeons at Selwick Royal Infirmary have carried out the hospital's first knee replacement
        using a robotic arm, which the team says allows them to place the implant more precisely.

        The patient, 67-year-old retired postman Walter Bright, was walking on the ward the same
        evening and went home two days later. "I expected to feel much worse," he said.

        The robot does not operate on its own. A surgeon guides it, and the machine stops the blade
        if it strays outside a plan drawn up from a scan of the patient's knee.

        Orthopaedic surgeon Mr Farid Nasser said the hospital hoped to perform 300 operations a year
        with the robot, which was bought with money raised by the hospital's charity.

        Studies of such robots have found fewer complications in some patients, though doctors say
        more evidence is needed on whether the new knees last longer.
        """,
    ),
    _story(
        "festival-lineup", "culture",
        "Calder folk festival announces biggest line-up in its 40-year history",
        "Forty years of folk: Calder festival's bumper bill",
        "Sofia Marchetti", "CALDER",
        "Crowds at the main stage of last year's Calder folk festival",
        """
        The Calder folk festival will feature more than 120 acts across six stages this summer, the
        biggest line-up in its 40-year history, organisers announced on Tuesday.

        Headliners include the Hollow Pines, who played the very first festival in a farmer's field
        in 1985, and the singer Marisol Quintero, who will perform with a 30-piece string orchestra.

        For the first time the festival will run for four days and will include a stage for young
        performers chosen through competitions in local schools.

        "We started with a tent, a tractor and a lot of optimism," said founder Martha Greaves, now
        76. "I never imagined it would grow into this."

        Tickets go on sale on Friday. Organisers said a quarter of day tickets would be reserved for
        residents of the valley at a reduced price.
        """,
    ),
    _story(
        "port-strike-deal", "economy",
        "Port Ansel dockers accept pay deal, ending threat of summer strike",
        "Dock strike averted after pay offer accepted",
        "Marcus Lindgren", "PORT ANSEL",
        "Containers stacked on the quay at Port Ansel",
        """
        Dock workers at Port Ansel have voted to accept a two-year pay deal, ending the threat of a
        strike that shippers feared would bring the region's largest port to a standstill in July.

        The agreement gives around 1,900 workers a 7 per cent rise this year and 4.5 per cent next
        year, plus an extra day of annual leave. Seventy-three per cent voted in favour.

        The Port Ansel Harbour Company said the deal was "fair to our people and sustainable for the
        port." Union negotiator Sanna Virtanen said members had won "a deal that recognises the
        work they did through the difficult years."

        Freight companies had begun diverting some cargo to other ports ahead of the planned
        walkout. The harbour company said it expected volumes to recover within weeks.
        """,
    ),
    _story(
        "coastal-erosion", "environment",
        "Clifftop homes in Dunhallow evacuated after a night of rockfalls",
        "Dunhallow residents leave homes as cliff crumbles",
        "Hugo Lambert", "DUNHALLOW",
        "The cliff edge behind Cliff Terrace, Dunhallow",
        """
        Twelve families in the coastal village of Dunhallow were told to leave their homes on
        Thursday after several large rockfalls overnight brought the cliff edge within eight metres
        of the nearest house.

        Geologists from the coastal authority inspected the cliff at first light and said further
        falls were likely after weeks of heavy rain had soaked the soft clay.

        "We heard a roar like thunder at about three in the morning," said resident Margaret Quill,
        who has lived on Cliff Terrace for 40 years. "In the morning the fence at the bottom of the
        garden was gone."

        The district council said it had found temporary accommodation for all the families. It
        said the houses would be monitored daily but could not say when, or whether, residents would
        be able to return.

        Dunhallow has lost about 30 metres of coastline since 1990. A plan to protect it with rock
        armour was rejected six years ago as too expensive.
        """,
    ),
    _story(
        "chess-prodigy", "culture",
        "Eleven-year-old from Westbrook becomes the country's youngest chess master",
        "Westbrook schoolgirl, 11, earns master title",
        "Beatrix Holm", "WESTBROOK",
        "Mei Lin Harwood at the board during the final round",
        """
        Mei Lin Harwood, an 11-year-old from Westbrook, has become the youngest player in the
        country to earn the title of national chess master, beating a record that had stood for 28
        years.

        She secured the title with a draw in the final round of the Northern Open on Sunday against
        a former national champion more than 50 years her senior.

        Mei Lin learned to play at the age of six at a club that meets in the back room of a
        Westbrook
        cafe. Her coach, Viktor Baranov, said she studies for about two hours a day after school.

        "She does not get nervous. I get nervous," he said. "She just looks at the board and
        thinks."

        Asked what she would do to celebrate, Mei Lin said she wanted to go swimming and then play
        more chess.
        """,
    ),
    _story(
        "airport-expansion", "transport",
        "Port Ansel airport expansion plan rejected by planning inspectors",
        "Inspectors turn down airport's second terminal",
        "Felix Armitage", "PORT ANSEL",
        "An aircraft takes off over houses in Kirkby Lane",
        """
        Planning inspectors have rejected Port Ansel airport's plan for a second terminal, saying it
        would cause too much noise for people living under the flight path and would conflict with
        the region's climate targets.

        The airport had wanted to raise its passenger limit from 9 million to 14 million a year and
        said the scheme would create 3,000 jobs.

        Residents' group Quiet Skies, which fought the plan for four years, said it was "overjoyed."
        Its chair, Anil Chaudhary, said: "This is a victory for ordinary people who just want to
        sleep at night."

        The airport's chief executive, Fiona McAllister, said the company was disappointed and would
        study the decision before deciding whether to appeal. She said the airport would continue to
        invest in the existing terminal.

        Business groups said the decision sent a poor signal to investors.
        """,
    ),
    _story(
        "vaccine-clinic", "health",
        "Pop-up clinics to offer winter vaccines in supermarkets and train stations",
        "Winter jabs to be offered at stations and shops",
        "Dr Amara Quist", "NORTHWOLD",
        "A nurse prepares a vaccine at a pop-up clinic in Northwold",
        """
        Winter flu and respiratory vaccines will be offered at pop-up clinics in supermarkets,
        train stations and football grounds across the region from next week, health officials
        said.

        Last year fewer than half of eligible adults under 65 were vaccinated against flu, and
        officials hope that making the jabs easier to get will raise that figure.

        The clinics will not need appointments. People will be asked for their name and date of
        birth so the vaccination can be added to their records.

        "If you are passing anyway, it takes ten minutes," said the regional director of public
        health, Dr Kwame Asante. "That is a lot less time than a week in bed with flu."

        Pharmacies and family doctors will continue to offer vaccines by appointment.
        """,
    ),
    _story(
        "factory-closure", "economy",
        "Tyre factory in Millford to close with the loss of 640 jobs",
        "Millford tyre plant to shut, 640 jobs lost",
        "Eleanor Voss", "MILLFORD",
        "The entrance to the Rollmark tyre factory in Millford",
        """
        The Rollmark tyre factory in Millford will close next spring with the loss of 640 jobs, its
        owners announced on Tuesday, blaming high energy costs and cheaper imports.

        The factory has made tyres for cars and vans since 1954 and is the largest private employer
        in the town. Workers were told the news at a meeting on the factory floor on Tuesday
        morning.

        "My father worked here, and his father," said machine operator Liam Carver. "There is
        nothing else like this in the valley."

        Rollmark's European division said production would move to its plants in two other
        countries. It said it would offer redundancy pay above the legal minimum and help workers
        find new jobs.

        The regional council said it would set up a task force with the national government to
        look for a new use for the site.
        """,
    ),
    _story(
        "lost-dog", "culture",
        "Dog missing for three months found 200 kilometres from home",
        "Missing terrier turns up 200km away",
        "Tobias Ferreira", "DUNHALLOW",
        "Pepper reunited with the Ashby family",
        """
        A terrier that went missing from a garden in Dunhallow in March has been found alive and
        well 200 kilometres away, thanks to the microchip under her skin.

        Pepper, a five-year-old border terrier, was taken to a vet in Northwold by a lorry driver
        who found her at a motorway service station. The vet scanned the chip and called her owners.

        "We had put up posters everywhere and we had almost given up," said Hannah Ashby. "When the
        phone rang, I could not speak."

        The family think Pepper may have climbed into a delivery van. She was thinner but otherwise
        healthy. The family drove to Northwold the same evening to collect her.
        """,
    ),
    _story(
        "election-turnout", "politics",
        "Record turnout expected in regional assembly election",
        "Assembly election set for record turnout",
        "Tomas Halloran", "PORT ANSEL",
        "Voters queue at a polling station in Port Ansel",
        """
        More than three quarters of voters are expected to take part in Thursday's election for the
        northern regional assembly, which would be the highest turnout since the assembly was
        created.

        Almost 400,000 people have already voted by post, the electoral commission said, nearly
        double the number at the last election.

        Polls suggest the governing Centre Alliance and the opposition Northern Labour Party are
        level, with the Green Valley group likely to decide who forms the next government.

        Housing, hospital waiting lists and the cost of energy have dominated the campaign. Both
        main parties have promised to build more homes, although they disagree on where.

        Polling stations open at 7am and close at 10pm. Results are expected overnight.
        """,
    ),
    _story(
        "ferry-service", "transport",
        "Island ferry service restored after three-week breakdown",
        "Skerra ferry back in service after repairs",
        "Daniel Abara", "SKERRA",
        "The ferry Island Queen arriving at Skerra pier",
        """
        The ferry linking the island of Skerra to the mainland returned to service on Monday after
        three weeks out of action with a broken gearbox.

        During the breakdown, islanders relied on a small passenger boat that could not carry cars
        or freight, and shops on the island ran short of fresh food.

        "It has been very hard, especially for older people with hospital appointments," said the
        island's community council chair, Fergus MacLeod. "We need a second boat."

        The ferry operator said the replacement part had to be made in a factory abroad. It
        apologised to islanders and said it would refund season ticket holders for the weeks
        without service.

        The regional government says a new ferry has been ordered but will not arrive for two
        years.
        """,
    ),
    _story(
        "rates-decision", "economy",
        "Central bank holds interest rates but signals cut is near",
        "Rates unchanged at 4.75%, cut hinted",
        "Katrin Solberg", "PORT ANSEL",
        "The central bank building on Exchange Square",
        """
        The central bank kept interest rates at 4.75 per cent on Thursday but said a cut could come
        as soon as its next meeting if inflation continued to fall.

        Seven members of the rate-setting committee voted to hold rates, while two voted for a cut
        of a quarter of a percentage point.

        Governor Henrik Aalto said the committee needed to be confident that inflation would stay
        close to its 2 per cent target. "We are not there yet, but we are getting closer," he said.

        Shares in banks and house builders rose after the announcement, and the crown weakened
        slightly against the euro.

        Mortgage lenders have already started to cut rates on fixed deals in anticipation of lower
        borrowing costs.
        """,
    ),
    _story(
        "pension-funds", "economy",
        "Regional pension fund moves 2 billion into local infrastructure",
        "Pension fund backs local projects with 2bn",
        "Katrin Solberg", "PORT ANSEL",
        "Construction cranes above the Harbourside redevelopment",
        """
        The northern region's public sector pension fund will invest 2 billion crowns in local
        infrastructure over the next five years, including housing, wind power and fibre broadband.

        The fund, which manages savings for about 180,000 teachers, nurses and council workers,
        currently holds most of its money in shares and bonds traded abroad.

        Its chief investment officer, Benedikt Aurel, said the projects were expected to deliver
        steady returns linked to inflation. "This is not charity. These are sound investments that
        happen to be close to home," he said.

        Some members questioned whether the fund was taking on more risk. The fund said no single
        project would receive more than 5 per cent of the money.
        """,
    ),
    _story(
        "tram-line", "transport",
        "Trams return to Eastmere streets after a 60-year absence",
        "Eastmere's new tram line carries first passengers",
        "Grace Whitfield", "EASTMERE",
        "The first tram leaves the Riverside stop on Sunday morning",
        """
        Trams carried passengers through the centre of Eastmere on Sunday for the first time since
        the old network was torn up in 1964, as the city's new 11-kilometre line opened.

        About 25,000 people rode the line on its first day, when travel was free. Queues formed at
        the Riverside stop before the first tram left at 6am.

        The line links the university, the hospital and the railway station and cost 410 million
        crowns, about 15 per cent more than planned. Its opening was delayed by a year after
        workers found a medieval burial ground under Market Street.

        "My grandmother rode the last of the old trams," said passenger Yasmin Okoro, who brought
        her two children. "She would have loved to see this."

        Trams will run every six minutes during the day. A second line to the eastern suburbs is
        being planned but has not yet been funded.
        """,
    ),
    _story(
        "teacher-shortage", "education",
        "One in ten maths lessons in Northwold taught by non-specialists",
        "Northwold struggles to find maths teachers",
        "Aisha Demir", "NORTHWOLD",
        "A maths lesson at Kingsgate secondary school",
        """
        One in ten secondary school maths lessons in Northwold is being taught by a teacher without
        a maths qualification, according to a survey by the district's head teachers' association.

        The association said schools had advertised 46 maths posts since January and filled fewer
        than half. Physics and computing were also hard to staff.

        "We have geography teachers doing a brilliant job teaching algebra, but it is not fair on
        them or the pupils," said association chair Declan Morrow.

        The district council said it would pay a 5,000-crown bonus to maths and physics teachers who
        join a Northwold school and stay for three years, and would help with rent for newly
        qualified staff.

        Teaching unions said bonuses alone would not solve the problem while teachers' workload
        remained so high.
        """,
    ),
    _story(
        "app-outage", "technology",
        "Payments app outage leaves shoppers unable to pay for four hours",
        "PayBridge glitch stops card payments across region",
        "Felix Armitage", "PORT ANSEL",
        "A sign at a Port Ansel cafe asking customers to pay in cash",
        """
        Thousands of shoppers were unable to pay in shops and cafes on Saturday after an outage at
        PayBridge, the payments company whose card readers are used by around 30,000 small
        businesses in the region.

        The fault began at about 11am and lasted more than four hours. Traders put up handwritten
        signs asking for cash, and some closed early.

        "Saturday is our busiest day. We probably lost half our takings," said Roberto Esposito, who
        runs a delicatessen in the Harbourside market.

        PayBridge said a software update had caused the problem and that no customer data had been
        affected. It said it would refund the fees businesses paid for the day.

        The regional chamber of commerce said the outage showed the risk of relying on a single
        payment provider and urged members to keep a backup.
        """,
    ),
    _story(
        "allotment-theft", "crime",
        "Thieves strip Westbrook allotments of tools and prize vegetables",
        "Allotment holders count cost of overnight raid",
        "Rachel Dunford", "WESTBROOK",
        "A broken shed door at the Orchard Lane allotments",
        """
        Police are investigating after thieves broke into 23 sheds at the Orchard Lane allotments
        in Westbrook overnight on Tuesday, taking tools, a petrol mower and vegetables grown for
        next month's county show.

        Gardeners arrived on Wednesday morning to find padlocks cut and beds trampled. Among the
        losses were marrows and onions that had been grown from seed since February.

        "It is not the money, it is the months of work," said allotment secretary Doreen Platt, who
        has kept a plot on the site for 31 years.

        Police asked anyone who saw a van in Orchard Lane between midnight and 4am to come forward.
        The allotment society said it would apply for a grant to install lighting and cameras.
        """,
    ),
    _story(
        "glacier-study", "science",
        "Highland glaciers lost a fifth of their ice in ten years, survey finds",
        "Survey: northern glaciers shrinking faster than feared",
        "Ingrid Halvorsen", "NORTHWOLD",
        "Researchers measure ice thickness on the Skarn glacier",
        """
        Glaciers in the northern highlands lost about 21 per cent of their ice between 2013 and
        2023, according to a survey by scientists at the Northwold Institute of Geography.

        The team used drones and ground-penetrating radar to measure the thickness of 34 glaciers,
        and compared the results with aerial photographs from the 1950s.

        Three small glaciers have disappeared entirely in the last decade. The largest, the Skarn
        glacier, has retreated by more than 400 metres.

        "The speed has surprised even those of us who expected bad news," said lead author Dr
        Kristof Ballard. He said the loss would affect rivers that farmers and hydroelectric plants
        rely on in late summer.

        The institute is asking hikers to send in dated photographs of the glaciers to help build a
        longer record.
        """,
    ),
    _story(
        "cycling-race", "sport",
        "Home rider wins the Tour of the Valleys after a mountain-top attack",
        "Valley rider takes stage race with late attack",
        "Jonah Mbeki", "CALDER",
        "The leaders on the final climb to Kestrel Pass",
        """
        Calder-born rider Tomas Ekwueme won the Tour of the Valleys on Sunday, attacking on the
        final climb to Kestrel Pass to overturn a 38-second deficit on the last day of the
        five-day race.

        Ekwueme, 24, rides for the regional development team and was not expected to challenge for
        the overall lead. He crossed the line 52 seconds ahead of the previous leader, Mattias
        Brandvold.

        "I told my directeur I would try once, and if it failed I would sit up," Ekwueme said. "It
        did not fail."

        Tens of thousands of spectators lined the route over the five days. Organisers said the race
        would add a time trial in Port Ansel next year.
        """,
    ),
    _story(
        "theatre-grant", "culture",
        "Selwick's Lyric Theatre saved by a last-minute grant",
        "Lifeline for Selwick Lyric as grant is approved",
        "Sofia Marchetti", "SELWICK",
        "The Victorian auditorium of the Lyric Theatre",
        """
        The Lyric Theatre in Selwick, which had warned it would close in September, has been saved
        by a 2.4-million-crown grant from the national arts council.

        The 140-year-old theatre needed urgent repairs to its roof and fire alarm system and had
        been losing money since audiences fell during the pandemic.

        Its artistic director, Camille Dubois, said staff had been preparing to tell the cast of the
        summer pantomime that there would be no show. "We went from planning a closure to planning
        a season in one afternoon," she said.

        The grant comes with conditions, including a plan to raise more money from private donors
        and to open the building for community use during the day.
        """,
    ),
    _story(
        "drought-farmers", "environment",
        "Farmers in the Orne valley told to cut irrigation by a third",
        "Irrigation cuts for Orne farmers as rivers run low",
        "Thomas Achterberg", "ORNE",
        "A dry irrigation channel beside a potato field in the Orne valley",
        """
        Farmers in the Orne valley have been told to cut the water they take from rivers for
        irrigation by a third after the driest spring in 40 years.

        The environment agency said flows in the Orne and its tributaries had fallen below the level
        at which fish and other wildlife are put at risk.

        Potato and vegetable growers said the limits would reduce their harvests. "You cannot grow
        a potato without water. It is as simple as that," said grower Ewan Fairclough.

        The agency said the restrictions would be lifted as soon as river levels recover. Farmers
        who have built their own storage reservoirs will be allowed to use them.
        """,
    ),
    _story(
        "ambulance-times", "health",
        "Ambulance response times miss target in rural districts",
        "Rural ambulance waits exceed targets",
        "Priya Raman", "DUNHALLOW",
        "An ambulance on the coast road outside Dunhallow",
        """
        Ambulances in the region's rural districts took an average of 14 minutes to reach the most
        serious emergencies last month, well above the seven-minute target, according to figures
        from the ambulance service.

        In towns the average was just under eight minutes. The service said long distances and
        delays handing patients over at hospitals were the main reasons.

        "When an ambulance waits outside a hospital for an hour, it is not out on the road," said
        the service's chief executive, Graham Ostrowski.

        Councillors in Dunhallow asked for a second ambulance base on the coast. The service said it
        was training volunteer first responders in villages that are far from a station.
        """,
    ),
    _story(
        "robot-lawnmower", "technology",
        "Stolen robot lawnmower tracked to a car boot sale by its owner's phone",
        "Owner finds stolen robot mower using phone app",
        "Tobias Ferreira", "MILLFORD",
        "The recovered robot lawnmower back in Dev Sharma's garden",
        """
        A Millford man whose robot lawnmower was stolen from his garden tracked it to a car boot
        sale 30 kilometres away using the app on his phone.

        Dev Sharma noticed the mower was missing on Saturday evening. On Sunday morning the app
        showed it in a field at the Greyfield showground, where a car boot sale was being held.

        "I walked around until the little dot on my phone was right in front of me," he said. "It
        was on a table with a price sticker on it."

        Police officers who went with him arrested a 41-year-old man on suspicion of handling stolen
        goods. The mower has been returned.
        """,
    ),
    _story(
        "university-strike", "education",
        "University lecturers vote to boycott marking over pay",
        "Eastmere lecturers back marking boycott",
        "Aisha Demir", "EASTMERE",
        "Students outside the main library at Eastmere University",
        """
        Lecturers at Eastmere University have voted to stop marking exams and coursework from next
        month in a dispute over pay and short-term contracts.

        The University and College Staff Union said 68 per cent of members who voted supported the
        boycott. Final-year students could be left without degree results if it goes ahead.

        "Nobody goes into teaching to hurt students. But a third of our colleagues are on contracts
        that end every summer," said union branch secretary Joanna Kirwan.

        The university said it had offered a 5 per cent rise and was "disappointed" by the vote. It
        said it would try to make sure all students graduate on time.
        """,
    ),
    _story(
        "seal-pups", "environment",
        "Record number of grey seal pups born on Skerra",
        "Skerra seal colony has record breeding year",
        "Hugo Lambert", "SKERRA",
        "A grey seal pup on the beach at Skerra's north shore",
        """
        A record 1,240 grey seal pups were born on the island of Skerra this winter, wildlife
        wardens said, more than double the number ten years ago.

        The colony has grown since fishing nets that once trapped seals were banned in the waters
        around the island. Wardens count the pups from the clifftops and by drone.

        "Ten years ago we could count them on a long afternoon. Now it takes a week," said warden
        Fiona Gallacher.

        Visitors are asked to stay at least 50 metres from the pups and to keep dogs on leads. A
        viewing platform above the north shore will open in the spring.
        """,
    ),
    _story(
        "court-landlord", "crime",
        "Landlord fined 90,000 crowns for renting out flats with no fire alarms",
        "Heavy fine for landlord over unsafe flats",
        "Rachel Dunford", "PORT ANSEL",
        "The block on Canal Street where inspectors found the faults",
        """
        A Port Ansel landlord has been fined 90,000 crowns after inspectors found that eight flats
        he rented out had no working fire alarms and only one exit.

        Kenneth Marlowe, 63, admitted 14 breaches of housing safety rules at the city's magistrates
        court on Monday. Inspectors visited the building on Canal Street after a tenant complained
        about damp.

        "These tenants were living in a fire trap," said the council's head of housing standards,
        Nicola Ferris. "We will not hesitate to prosecute."

        Marlowe told the court he had not realised the alarms had stopped working. He was also
        ordered to pay the council's costs. The flats have since been repaired.
        """,
    ),
    _story(
        "bank-branches", "economy",
        "Last bank branch in three Calder villages to close",
        "Calder villages to lose their last bank",
        "Oliver Brandt", "CALDER",
        "The Northern Savings Bank branch in the village of Hollow Ford",
        """
        Northern Savings Bank will close its branches in three Calder Valley villages in October,
        leaving them without a bank for the first time in more than a century.

        The bank said the number of customers visiting the branches had fallen by 70 per cent in
        five years as people moved to online and mobile banking.

        Residents said older people and small businesses that handle cash would be hit hardest. "I
        am 81. I do not want to do my banking on a telephone," said Hollow Ford resident Agnes
        Pemberton.

        The bank said a mobile branch would visit each village once a week and that customers could
        use post offices to pay in cash.
        """,
    ),
)
