#!/usr/bin/env python3
"""Scores the datasets against a running test server, independently of ocx.

  tests/data/check_datasets.py http://127.0.0.1:PORT/v1

PPL: each option's full text "<context> <option>" is scored with
/v1/completions echo + logprobs; the lowest mean negative log-likelihood wins
(OpenCompass's PPLInferencer). Gen: greedy completion, the text up to the
first newline, period or comma compared with `answer` (EM as OpenCompass's
general_postprocess does it, without the article/punctuation details).
Prints accuracies so a dataset change can be checked against chance.
"""
import json
import os
import re
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def post(base, body):
    req = urllib.request.Request(base + "/completions",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def nll(base, text):
    lp = post(base, {"prompt": text, "max_tokens": 0, "echo": True,
                     "logprobs": 0})["choices"][0]["logprobs"]["token_logprobs"]
    vals = [x for x in lp if x is not None]
    return -sum(vals) / len(vals)


def rows(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    base = sys.argv[1].rstrip("/")
    for name in ["story_choice.jsonl", "story_choice_shuffled.jsonl"]:
        data = rows(name)
        right = 0
        for r in data:
            scores = {k: nll(base, f"{r['context']} {r[k]}") for k in "ABC"}
            right += min(scores, key=scores.get) == r["label"]
        print(f"{name}: accuracy {100 * right / len(data):.2f} "
              f"({right}/{len(data)}, chance 33.33)")
    data = rows("story_gen.jsonl")
    right = 0
    for r in data:
        text = post(base, {"prompt": r["prompt"], "max_tokens": 16,
                           "temperature": 0})["choices"][0]["text"]
        first = re.split(r"[\n.,]", text, maxsplit=1)[0].strip()
        right += first.lower() == r["answer"].lower()
    print(f"story_gen.jsonl: exact match {100 * right / len(data):.2f} "
          f"({right}/{len(data)})")


if __name__ == "__main__":
    main()
