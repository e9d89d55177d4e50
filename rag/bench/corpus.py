"""A reproducible synthetic news corpus with questions that have one right document each.

No licensed corpus ships with the project, and the five seed pages are too few to show how the
system scales. Each generated article is ~1.2-2k characters of news-like prose: a headline, a
dateline, a lead with the story's facts (a person, an invented town, an amount, a count, a date),
then background sentences. Every article has its own town (built from syllables, so there are
millions) and its own combination of facts; the questions paraphrase one fact of one article, so
retrieval has something definite to find and hit@k means something at 10k documents.

Article `i` depends only on (seed, i): the 1k corpus is the first thousand articles of the 10k one,
so embeddings cached for one size serve the others.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

FIRST = ["Amara", "Anton", "Beatriz", "Bilal", "Carmen", "Chidi", "Dana", "Dmitri", "Elena", "Emeka", "Farah", "Felix", "Grace", "Goran", "Hana", "Hugo", "Ines", "Ivan", "Jamal", "Julia", "Kavya", "Kenji", "Lara", "Luca", "Maya", "Marek", "Nadia", "Nikhil", "Olga", "Omar", "Priya", "Pavel", "Quinn", "Rafael", "Sana", "Stefan", "Tara", "Tomas", "Uma", "Viktor", "Wanda", "Wei", "Ximena", "Yusuf", "Zara", "Zoltan", "Aisha", "Bruno", "Chiara", "Diego", "Esther", "Fatima", "Gustav", "Helga", "Imran", "Jonas", "Keiko", "Leila", "Mateo", "Noor", "Oskar", "Petra", "Rahul", "Sofia", "Tariq", "Ursula", "Vera", "Walter", "Yara"]
LAST = ["Abara", "Bergstrom", "Castellano", "Dasgupta", "Eriksen", "Fontaine", "Gallardo", "Haddad", "Ivanova", "Jankowski", "Kovalenko", "Lindqvist", "Mbeki", "Nakamura", "Okafor", "Petrovic", "Quintero", "Rahimi", "Santoro", "Takahashi", "Urquhart", "Valdivia", "Wojcik", "Xavier", "Yamamoto", "Zielinski", "Achterberg", "Brennan", "Chaudhry", "Delacroix", "Esposito", "Fischer", "Gonzaga", "Horvath", "Iglesias", "Jovanovic", "Kaur", "Lombardi", "Moreau", "Novak", "Oyelaran", "Pereira", "Rossi", "Schreiber", "Thorsen", "Uchida", "Varga", "Whitfield", "Yilmaz", "Zamora"]
ONSETS = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "k", "kl", "l", "m", "n", "p", "pr", "r", "s", "sh", "st", "t", "tr", "v", "w", "z"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
CODAS = ["n", "r", "l", "s", "th", "m", "nd", "rk", "ll", "st", "x", "ck"]
SUFFIXES = ["ford", "haven", "mere", "wick", "dale", "bury", "stead", "holm", "port", "field", "vale", "crest", "ton", "ridge", "moor", "by"]
REGIONS = ["Northern Province", "Coastal District", "Eastern Highlands", "Lake Region", "Western Plains", "Southern Valley", "Central Basin", "River Delta", "Mountain Territory", "Island Prefecture"]
PUBLISHERS = ["The Daily Ledger", "Regional Times", "Morning Courier", "Evening Standard-Post", "Valley Herald", "Metro Wire"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
ROLES = ["mayor", "regional governor", "transport minister", "health minister", "chief executive", "chief engineer", "trade minister", "education minister"]


@dataclass(frozen=True)
class Question:
    qid: str
    question: str
    doc_id: str
    answer: str  # a string the right article contains


@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    text: str  # the whole file: header lines, then paragraphs
    questions: tuple[Question, ...]


def _town(rng: random.Random, i: int) -> str:
    # The second syllable and the suffix spell out `i`, so towns never repeat (up to ~38k articles).
    second = [o + v + c for o in ONSETS for v in VOWELS for c in CODAS]
    first = rng.choice(ONSETS) + rng.choice(VOWELS)
    return (first + second[i % len(second)] + SUFFIXES[(i // len(second)) % len(SUFFIXES)]).capitalize()


def _date(rng: random.Random) -> tuple[str, str]:
    day, month, year = rng.randint(1, 28), rng.choice(MONTHS), rng.randint(2019, 2025)
    return f"{month} {day}, {year}", f"{year}-{MONTHS.index(month) + 1:02d}-{day:02d}"


# Each topic: (title, lead sentences, facts asked about, background sentences). Slots in braces.
TOPICS: dict[str, dict] = {
    "bridge": {
        "title": "{town} opens {length}-metre {thing} after {years} years of work",
        "lead": [
            "{person}, the {role} of {region}, opened the new {thing} in {town} on {date}, ending {years} years of construction.",
            "The crossing cost {amount} and will carry about {count} vehicles a day, according to the regional roads agency.",
            "Engineers said the {length}-metre span was designed to withstand floods of the kind that cut the town off in {past_year}.",
        ],
        "q": [
            ("Who inaugurated the {thing} in {town}?", "{person}"),
            ("What was the price tag of the new crossing at {town}?", "{amount}"),
            ("How many vehicles per day is the {town} {thing} expected to handle?", "{count}"),
        ],
        "things": ["suspension bridge", "rail viaduct", "river bridge", "flyover"],
    },
    "factory": {
        "title": "{company} to build {thing} in {town}, creating {count} jobs",
        "lead": [
            "{company} will invest {amount} in a {thing} in {town}, {person}, the company's {role}, announced on {date}.",
            "The plant is expected to employ {count} people when it reaches full production in {future_year}.",
            "Local officials in {region} said {town} had been chosen over {n1} rival bids because of its rail links.",
        ],
        "q": [
            ("How much money is {company} putting into the {town} plant?", "{amount}"),
            ("How many workers will the {company} site in {town} need at full output?", "{count}"),
            ("In which year should the {town} {thing} be fully operational?", "{future_year}"),
        ],
        "things": ["battery factory", "semiconductor plant", "steel mill", "vaccine plant"],
    },
    "election": {
        "title": "{person} wins {town} council vote with {pct}% support",
        "lead": [
            "{person} was elected to lead the {town} council on {date}, winning {pct}% of the vote in a race with {count} registered voters.",
            "Turnout reached {pct2}%, the highest in {region} since {past_year}, election officials said.",
            "{person} promised to spend {amount} on housing and to reopen the {thing} closed during the last budget crisis.",
        ],
        "q": [
            ("Who became head of the {town} council?", "{person}"),
            ("What share of ballots did the winner of the {town} council race receive?", "{pct}%"),
            ("How much did the new {town} council leader pledge for housing?", "{amount}"),
        ],
        "things": ["public library", "swimming pool", "night bus service", "community clinic"],
    },
    "flood": {
        "title": "Floods force {count} people from their homes in {town}",
        "lead": [
            "Heavy rain flooded large parts of {town} on {date}, forcing {count} residents to leave their homes, said {person}, the {role} of {region}.",
            "Damage to roads, farms and the {thing} was estimated at {amount}.",
            "Rainfall reached {length} millimetres in two days, more than the town usually receives in {years} months.",
        ],
        "q": [
            ("How many residents had to evacuate because of the flooding in {town}?", "{count}"),
            ("What was the estimated cost of the flood damage in {town}?", "{amount}"),
            ("How much rain fell on {town} in the two-day storm?", "{length} millimetres"),
        ],
        "things": ["water treatment plant", "railway station", "main hospital", "grain depot"],
    },
    "science": {
        "title": "{town} researchers identify {thing} in record survey",
        "lead": [
            "A team led by {person} at the {town} Institute reported on {date} that it had identified a new {thing} after a survey of {count} samples.",
            "The project, funded with {amount} from the {region} science fund, took {years} years.",
            "{person} said the finding could change how the region manages its water supply by {future_year}.",
        ],
        "q": [
            ("Which scientist headed the {town} Institute study that found a new {thing}?", "{person}"),
            ("How many samples did the {town} Institute team examine?", "{count}"),
            ("How much funding did the {town} Institute {thing} project get?", "{amount}"),
        ],
        "things": ["species of freshwater snail", "strain of soil bacteria", "orchid species", "cave beetle"],
    },
    "trade": {
        "title": "{town} port handles record {count} containers as exports rise",
        "lead": [
            "The port of {town} handled {count} containers in the year to {date}, a record, port director {person} said.",
            "Exports of {thing} through the port rose {pct}% and were worth {amount}.",
            "The {region} government plans to deepen the harbour by {length} centimetres before {future_year}.",
        ],
        "q": [
            ("How many containers passed through the port of {town} in its record year?", "{count}"),
            ("Who runs the port of {town}?", "{person}"),
            ("By what percentage did {thing} exports through {town} grow?", "{pct}%"),
        ],
        "things": ["coffee", "timber", "copper ore", "olive oil", "machine parts"],
    },
    "health": {
        "title": "{town} hospital begins {thing} programme for {count} patients",
        "lead": [
            "The {town} General Hospital began a {thing} programme on {date} that will treat {count} patients in its first year.",
            "{person}, the {role} of {region}, said the programme would cost {amount} over {years} years.",
            "Waiting times for the treatment had grown to {length} days, the longest in the country, before the programme began.",
        ],
        "q": [
            ("How many patients will the new {thing} programme at {town} General Hospital treat in year one?", "{count}"),
            ("What is the budget of the {town} hospital {thing} programme?", "{amount}"),
            ("How long had patients in {town} been waiting before the {thing} programme started?", "{length} days"),
        ],
        "things": ["kidney dialysis", "cataract surgery", "childhood vaccination", "cancer screening"],
    },
    "sport": {
        "title": "{town} United win {thing} final in front of {count} fans",
        "lead": [
            "{town} United won the {thing} final on {date}, beating their rivals {score} in front of {count} spectators.",
            "Captain {person} scored twice, taking the striker's tally for the season to {years}.",
            "The club said the win would bring in {amount} in prize money, which will go to a new training ground in {region}.",
        ],
        "q": [
            ("Which player captained {town} United to victory in the {thing} final?", "{person}"),
            ("How many people watched {town} United win the {thing} final?", "{count}"),
            ("What was the score when {town} United won the {thing} final?", "{score}"),
        ],
        "things": ["regional cup", "national league", "champions shield", "coastal trophy"],
    },
}

# Background sentences carry the story's own town, region or a number, as real reports do, so no
# two articles share a sentence (identical sentences would flatter the embedding cache).
BACKGROUND = [
    "Residents interviewed on {town}'s high street were divided about what the change would mean for them.",
    "The announcement follows {n1} months of debate in the {region} assembly, where opposition members questioned the cost.",
    "Critics said the plan had been rushed and that smaller towns near {town} had been overlooked again.",
    "Business groups in {region} welcomed the news, saying it would bring much-needed investment to {town}.",
    "Officials said a full report on {town} would be published within {n2} weeks.",
    "The economy of {region} has grown slowly since the closure of {n1} mines in the last decade.",
    "Schools in {town} will hold information evenings for families over the coming {n2} weeks.",
    "An independent review last year found that spending in {region} lagged the national average by {n3}%.",
    "Environmental groups asked for more detail on how the project would affect the wetlands east of {town}.",
    "The national government has promised to match funding from {region} for {n1} similar projects elsewhere.",
    "Traffic in central {town} is expected to be disrupted for {n2} weeks while the final works are completed.",
    "{n1} councillors said they would press for a public meeting in {town} to discuss the next steps.",
    "Previous attempts to revive {town} stalled after funding was withdrawn during the recession of {past_year}.",
    "A spokesperson for the {region} transport authority declined to comment on the timetable for {town}.",
    "Shop owners in {town} said footfall had fallen by {n3}% over the past two winters.",
    "The population of {town} has grown to {population} since the last census, driven by young families.",
    "Farmers around {town} said they hoped the decision would lower their transport costs.",
    "The opposition leader in {region} called the timing of the {town} announcement political.",
    "Unemployment in {town} stood at {n3}% last year, above the regional figure.",
    "Visitors to {town} will be able to follow the project's progress on a public website.",
]
COMPANIES = ["Norvik Industries", "Helios Dynamics", "Castell Motors", "Verano Foods", "Quanta Cells", "Atlas Forge", "Meridian Pharma", "Borealis Power"]


def _money(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"${rng.randint(12, 980)} million"
    return f"{rng.randint(11, 95)/10:.1f} billion euros"


def article(seed: int, i: int) -> Article:
    rng = random.Random(f"{seed}:{i}")
    topic = list(TOPICS)[i % len(TOPICS)]
    spec = TOPICS[topic]
    date_text, date_iso = _date(rng)
    year = int(date_iso[:4])
    slots = {
        "person": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "town": _town(rng, i),
        "region": rng.choice(REGIONS),
        "role": rng.choice(ROLES),
        "date": date_text,
        "amount": _money(rng),
        "count": f"{rng.randint(120, 98000):,}",
        "pct": str(rng.randint(12, 79)),
        "pct2": str(rng.randint(30, 88)),
        "years": str(rng.randint(2, 14)),
        "length": str(rng.randint(40, 2400)),
        "past_year": str(year - rng.randint(3, 30)),
        "future_year": str(year + rng.randint(1, 6)),
        "thing": rng.choice(spec["things"]),
        "company": rng.choice(COMPANIES),
        "score": f"{rng.randint(1, 5)}-{rng.randint(0, 1)}",
        "n1": str(rng.randint(2, 19)),
        "n2": str(rng.randint(2, 12)),
        "n3": f"{rng.randint(2, 19)}.{rng.randint(1, 9)}",
        "population": f"{rng.randint(8, 400) * 1000 + rng.randint(0, 999):,}",
    }
    doc_id = f"{i:05d}_{topic}_{slots['town'].lower()}"
    title = spec["title"].format(**slots)
    lead = [s.format(**slots) for s in spec["lead"]]
    background = [b.format(**slots) for b in rng.sample(BACKGROUND, rng.randint(7, 12))]
    # Quotes give the prose a second name and the town a second mention, as real reports do.
    quote = (f"“This is a good day for {slots['town']},” said {rng.choice(FIRST)} {rng.choice(LAST)}, "
             f"who has lived in the town for {rng.randint(3, 60)} years.")
    body = [" ".join(lead[:2]), lead[2] + " " + " ".join(background[:2]), quote + " " + " ".join(background[2:])]
    text = (
        f"Title: {title}\nPublisher: {rng.choice(PUBLISHERS)}\nDate: {date_iso}\n\n{title}\n\n" + "\n\n".join(body) + "\n"
    )
    questions = tuple(
        Question(f"{doc_id}:q{k}", q.format(**slots), doc_id, a.format(**slots)) for k, (q, a) in enumerate(spec["q"])
    )
    return Article(doc_id, title, text, questions)


def generate(n: int, seed: int = 7) -> list[Article]:
    return [article(seed, i) for i in range(n)]


def write_folder(articles: list[Article], folder: Path) -> Path:
    """One .txt file per article (the layout both our indexer and SimpleDirectoryReader read)."""
    folder.mkdir(parents=True, exist_ok=True)
    for a in articles:
        path = folder / f"{a.doc_id}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != a.text:
            path.write_text(a.text, encoding="utf-8")
    return folder


def questions_for(articles: list[Article], n: int, seed: int = 7) -> list[Question]:
    """`n` questions spread over the articles (reproducible)."""
    pool = [q for a in articles for q in a.questions]
    rng = random.Random(f"questions:{seed}")
    return rng.sample(pool, min(n, len(pool)))


def load_real(path: Path, folder: Path) -> tuple[Path, list[Question]]:
    """A folder of articles, or a JSONL file ({"text": ..., "title"?: ..., "id"?: ...} per line).

    JSONL is written out as .txt files. Real corpora come without questions: each question is
    the first ~12 words of a sentence from the middle of an article, which measures latency
    honestly and gives a rough hit@k (the sentence's own article should come back).
    """
    from rag.ingest.loaders import corpus_files

    if path.is_dir():
        src = path
    else:
        src = folder
        folder.mkdir(parents=True, exist_ok=True)
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if not line.strip():
                    continue
                rec = json.loads(line)
                name = str(rec.get("id") or rec.get("doc_id") or f"doc{n:06d}")
                name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:100]
                title = rec.get("title", "")
                text = (f"Title: {title}\n\n" if title else "") + rec["text"]
                (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    questions: list[Question] = []
    rng = random.Random("real")
    for p in corpus_files(src):
        sentences = [s.strip() for s in p.read_text(encoding="utf-8", errors="replace").replace("\n", " ").split(". ")]
        sentences = [s for s in sentences if len(s.split()) >= 12]
        if sentences:
            words = rng.choice(sentences).split()[:12]
            questions.append(Question(f"{p.stem}:q0", " ".join(words), str(p.relative_to(src).with_suffix("")), ""))
    return src, questions


__all__ = ["Article", "Question", "article", "generate", "write_folder", "questions_for", "load_real", "asdict"]
