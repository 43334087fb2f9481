#!/usr/bin/env python3
"""Writes the small datasets the real-model tests, bench and demo use.

Deterministic (fixed seed): running it again rewrites the same files.

  story_choice.jsonl          30 multiple-choice questions for PPLInferencer:
                              {context, A, B, C, label}. One option is the
                              natural next sentence of a TinyStories-style
                              story, the other two are its words shuffled.
                              Labels are balanced: 10 each of A, B, C.
  story_choice_shuffled.jsonl the same questions with the gold labels
                              permuted at random (a control: a model that
                              picks the natural sentence scores ~1/3 here).
  story_gen.jsonl             20 generation prompts {prompt, answer,
                              reference}: `answer` is the word(s) a person
                              would write next (for EMEvaluator after the
                              `general` postprocessor), `reference` a
                              natural continuation sentence (for ROUGE).
  story_gen_2000.jsonl        2,000 short generation prompts for bench/
                              (the 20 prompts with varied names).

Usage: tests/data/make_datasets.py [OUT_DIR]   (default: this directory)
"""
import json
import os
import random
import sys

SEED = 20240604

# (context, natural next sentence). Written for the stories260K model's
# world: children, toys, parks, animals, simple past tense.
STORIES = [
    ("Once upon a time, there was a little girl named Lily. She loved to play outside.",
     "One day, she went to the park with her mom."),
    ("Tom had a big red ball. He liked to throw it very high.",
     "The ball went up into the sky and came down again."),
    ("Sue and her dog were best friends. They did everything together.",
     "Every day, they ran and played in the big green park."),
    ("Ben found a shiny coin on the ground. He picked it up and smiled.",
     "He wanted to show it to his mom and dad."),
    ("The sun was shining and the sky was blue. Mia wanted to go outside.",
     "She put on her hat and ran to the garden."),
    ("Once upon a time, there was a little boy named Tim. He had a small toy car.",
     "He played with his car every day in his room."),
    ("Lily saw a little bird in a tree. The bird was singing a happy song.",
     "Lily smiled and sang the song with the bird."),
    ("Max was very hungry. He went to the kitchen to find some food.",
     "His mom gave him a big apple and some bread."),
    ("Anna had a pretty doll with a pink dress. She loved her doll very much.",
     "She took the doll with her everywhere she went."),
    ("One day, a big cat came to Tim's house. The cat was very soft and nice.",
     "The children gave the cat some milk to drink."),
    ("Timmy wanted to build a tall tower. He got all of his blocks.",
     "He put one block on top of the other."),
    ("It was a rainy day. Sara could not go to the park.",
     "She stayed inside and played with her toys."),
    ("Jack and Jill went to the beach. They wanted to build a sand castle.",
     "They dug in the sand and made a big castle."),
    ("The little fish named Tim lived in the big blue sea. He liked to swim fast.",
     "One day, he met a friendly turtle near the rocks."),
    ("Lucy lost her teddy bear. She was very sad and started to cry.",
     "Her brother helped her look for it under the bed."),
]
NAMES = [("Lily", "Sue"), ("Tom", "Ben"), ("Sue", "Mia"), ("Ben", "Tim"),
         ("Mia", "Anna"), ("Tim", "Max"), ("Lily", "Lucy"), ("Max", "Tom"),
         ("Anna", "Sara"), ("Tim", "Sam"), ("Timmy", "Jack"), ("Sara", "Lily"),
         ("Jack", "Ben"), ("Tim", "Max"), ("Lucy", "Mia")]

GEN = [
    ("Once upon a time, there was a little girl named", "Lily",
     "Lily. She loved to play outside in the park."),
    ("Once upon a time, there was a little boy named", "Tim",
     "Tim. He loved to play with his toys."),
    ("One day, Lily went to the", "park", "park with her mom."),
    ("Tom had a big red", "ball", "ball. He liked to play with his ball."),
    ("The sun was", "shining", "shining and the sky was blue."),
    ("Lily and her mom went to the", "store", "store to buy some food."),
    ("Tim was very", "happy", "happy. He loved to play with his friends."),
    ("She wanted to play with her", "doll", "doll. She was very happy."),
    ("At the park, they saw a big", "tree", "tree with many red apples."),
    ("Ben liked to eat", "apples", "apples. He liked to play with his dog."),
    ("The bird flew up into the", "sky", "sky. It was a big, blue sky."),
    ("He was sad because he lost his", "toy", "toy car. He looked for it everywhere."),
    ("They played together all", "day", "day long and had a lot of fun."),
    ("The dog barked at the", "cat", "cat. The cat ran up the tree."),
    ("Sue found a shiny", "rock", "rock on the ground. She was very happy."),
    ("After lunch, Max took a", "nap", "nap in his bed."),
    ("Lily went to the park to play with her", "friends", "friends. They played on the swings."),
    ("It was a sunny", "day", "day. The sun was shining in the sky."),
    ("Mom said, \"Let's go to the", "park", "park. We can play on the slide.\""),
    ("The little girl smiled and said", "thank you", "thank you to her mom."),
]


def shuffled_words(rng, sentence, avoid):
    words = sentence.split(" ")
    for _ in range(100):
        perm = words[:]
        rng.shuffle(perm)
        text = " ".join(perm)
        if text not in avoid:
            return text
    raise RuntimeError(f"cannot shuffle {sentence!r}")


def story_choice(rng):
    rows = []
    for (context, natural), names in zip(STORIES, NAMES):
        for variant in range(2):
            ctx, nat = context, natural
            if variant == 1:  # the same story with another name
                ctx = ctx.replace(names[0], names[1])
                nat = nat.replace(names[0], names[1])
                assert ctx != context, f"{names[0]} is not in {context!r}"
            rows.append((ctx, nat))
    labels = ["A", "B", "C"] * (len(rows) // 3)
    rng.shuffle(labels)
    out = []
    for (ctx, nat), label in zip(rows, labels):
        d1 = shuffled_words(rng, nat, {nat})
        d2 = shuffled_words(rng, nat, {nat, d1})
        options = {}
        wrong = iter([d1, d2])
        for key in "ABC":
            options[key] = nat if key == label else next(wrong)
        out.append({"context": ctx, **options, "label": label})
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.abspath(__file__))
    rng = random.Random(SEED)
    choice = story_choice(rng)
    control_labels = [r["label"] for r in choice]
    rng.shuffle(control_labels)
    control = [dict(r, label=lab) for r, lab in zip(choice, control_labels)]
    gen = [{"prompt": p, "answer": a, "reference": ref} for p, a, ref in GEN]
    names = ["Lily", "Tom", "Sue", "Ben", "Mia", "Tim", "Anna", "Max", "Sara",
             "Jack", "Lucy", "Sam"]
    bench = []
    for i in range(2000):
        p, a, ref = GEN[i % len(GEN)]
        name = names[(i // len(GEN)) % len(names)]
        bench.append({"prompt": p.replace("Lily", name), "answer": a})

    def write(name, rows):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

    write("story_choice.jsonl", choice)
    write("story_choice_shuffled.jsonl", control)
    write("story_gen.jsonl", gen)
    write("story_gen_2000.jsonl", bench)
    same = sum(a["label"] == b["label"] for a, b in zip(choice, control))
    print(f"wrote {len(choice)} choice, {len(control)} control "
          f"({same} labels unchanged), {len(gen)} gen, {len(bench)} bench rows "
          f"to {out_dir}")


if __name__ == "__main__":
    main()
