"""Write the bundled demo data set: short product reviews labelled pos / neg.

The opinions below were written for edgeft; each review joins a product aspect with an opinion,
so the set is small but varied enough to train and check an int8 export in a couple of minutes.
Run it to regenerate train.csv, dev.csv and test.csv (seeded, so the files do not change).
"""

import csv
import random
from pathlib import Path

ASPECTS = [
    "the battery", "the screen", "the delivery", "customer support", "the price", "the sound",
    "the camera", "the build quality", "the setup", "the app", "the keyboard", "the packaging",
    "the fit", "the fabric", "the instructions", "the charger",
]
POSITIVE = [
    "is excellent", "works perfectly", "exceeded my expectations", "is worth every penny",
    "is brilliant", "made me really happy", "is fantastic", "is the best I have owned",
    "is great value", "feels solid and reliable", "arrived early and works great",
    "is impressively fast", "is a joy to use", "could not be better", "is superb",
    "was a pleasant surprise", "is lovely", "is top notch", "is simply wonderful",
    "keeps getting better", "is well designed", "is exactly as described", "is outstanding",
    "works like a charm", "is reliable and quiet", "is gorgeous", "deserves five stars",
    "is very comfortable", "was easy and painless", "is sturdy and well made",
]
NEGATIVE = [
    "is terrible", "stopped working after a week", "is a waste of money", "is awful",
    "broke on the first day", "was a huge disappointment", "is cheap and flimsy",
    "is the worst I have owned", "is painfully slow", "feels fragile", "never worked properly",
    "is overpriced junk", "made me regret buying it", "is useless", "is horrible",
    "keeps failing", "is poorly designed", "is nothing like the photos", "is a nightmare",
    "died within days", "is noisy and unreliable", "is ugly", "deserves zero stars",
    "is very uncomfortable", "was confusing and frustrating", "fell apart quickly",
    "is full of bugs", "arrived damaged", "is disappointing", "is not worth it",
]
TEMPLATES = [
    "{aspect} {opinion}.", "Honestly, {aspect} {opinion}.", "{aspect} {opinion}, I must say.",
    "I think {aspect} {opinion}.", "After a month of use, {aspect} {opinion}.",
    "Overall {aspect} {opinion}!",
]


def make_rows(opinions: list[str], label: str, rng: random.Random) -> list[tuple[str, str]]:
    rows = set()
    while len(rows) < 350:
        text = rng.choice(TEMPLATES).format(aspect=rng.choice(ASPECTS), opinion=rng.choice(opinions))
        rows.add((text[0].upper() + text[1:], label))
    return sorted(rows)


def main() -> None:
    rng = random.Random(7)
    rows = make_rows(POSITIVE, "pos", rng) + make_rows(NEGATIVE, "neg", rng)
    rng.shuffle(rows)
    splits = {"train.csv": rows[:400], "dev.csv": rows[400:550], "test.csv": rows[550:700]}
    here = Path(__file__).parent
    for name, part in splits.items():
        with open(here / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(part)


if __name__ == "__main__":
    main()
