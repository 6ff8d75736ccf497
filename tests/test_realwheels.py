"""tests/realwheels.py: the corpus file's validation, the pip arguments that select one file, the score."""

from __future__ import annotations

from pathlib import Path

import pytest
import realwheels

SHA = "0" * 64


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "corpus.toml"
    path.write_text(text)
    return path


def test_the_corpus_file_is_valid_and_large_enough() -> None:
    corpus = realwheels.load_corpus()
    assert len(corpus.wheels) >= 40
    over = [w for w in corpus.wheels if w.verdict == "over-claim"]
    assert len(over) >= 5, "the corpus must hold real over-claims"
    assert all(w.reason for w in corpus.wheels)
    # Every wheel under test that needs numpy's C API finds it in the wheelhouse.
    assert any(p.project == "numpy" for p in corpus.wheelhouse)


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (
            "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"],
        ),
        (
            "ninja-1.11.1.1-py2.py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl",
            ["--python-version", "3", "--implementation", "py", "--abi", "none"],
        ),
        (
            "psutil-5.9.8-cp36-abi3-manylinux_2_12_x86_64.manylinux2010_x86_64.whl",
            ["--python-version", "3.6", "--implementation", "cp", "--abi", "abi3"],
        ),
    ],
    ids=["cp311", "py2.py3", "abi3"],
)
def test_pip_is_asked_for_exactly_the_file(file: str, expected: list[str]) -> None:
    args = realwheels.pip_download_args(file)
    joined = " ".join(args)
    assert " ".join(expected) in joined
    # pip matches --platform literally: every platform tag of the name is passed, and only those.
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert platforms == sorted(file[: -len(".whl")].split("-")[-1].split("."))
    assert args[-1] == f"{file.split('-')[0]}=={file.split('-')[1]}"
    assert {"--no-deps", "--only-binary=:all:"} <= set(args)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            f'file = "x.tar.gz"\nsha256 = "{SHA}"\nverdict = "honest"\nreason = "r"',
            "must be a wheel file name",
        ),
        (
            'file = "x-1-py3-none-any.whl"\nsha256 = "abc"\nverdict = "honest"\nreason = "r"',
            "64 lowercase hex",
        ),
        (
            f'file = "x-1-py3-none-any.whl"\nsha256 = "{SHA}"\nverdict = "fine"\nreason = "r"',
            "'fine' is not one",
        ),
        (f'file = "x-1-py3-none-any.whl"\nsha256 = "{SHA}"\nverdict = "honest"', "needs its 'reason'"),
        (
            f'file = "x-1-py3-none-any.whl"\nsha256 = "{SHA}"\nverdict = "honest"\nreason = "r"\ntimeout = 0',
            "'timeout' must be a positive number of seconds, got 0",
        ),
    ],
    ids=["not-a-wheel", "bad-sha", "bad-verdict", "no-reason", "bad-timeout"],
)
def test_a_bad_entry_is_named(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(realwheels.CorpusError, match=message):
        realwheels.load_corpus(_write(tmp_path, f"[[wheel]]\n{entry}\n"))


def test_wheels_with_a_timeout_of_their_own_run_apart(tmp_path: Path) -> None:
    entries = "".join(
        f'[[wheel]]\nfile = "x{i}-1-py3-none-any.whl"\nsha256 = "{SHA}"\n'
        f'verdict = "honest"\nreason = "r"\n{extra}\n'
        for i, extra in enumerate(["", "timeout = 10", ""])
    )
    corpus = realwheels.load_corpus(_write(tmp_path, entries))
    runs = corpus.runs()
    assert list(runs) == [None, 10.0]
    assert [w.file for w in runs[None]] == ["x0-1-py3-none-any.whl", "x2-1-py3-none-any.whl"]
    assert [w.file for w in runs[10.0]] == ["x1-1-py3-none-any.whl"]


def test_a_wheel_listed_twice_is_refused(tmp_path: Path) -> None:
    entry = (
        f'[[wheel]]\nfile = "x-1-py3-none-any.whl"\nsha256 = "{SHA}"\nverdict = "no-claim"\nreason = "r"\n'
    )
    with pytest.raises(realwheels.CorpusError, match=r"listed twice: x-1-py3-none-any\.whl"):
        realwheels.load_corpus(_write(tmp_path, entry + entry))


def test_a_fetched_file_that_differs_from_its_pin_is_refused(tmp_path: Path) -> None:
    # A cached file with the wrong content is fetched again; pip is then asked for a file no index has.
    pinned = realwheels.Pinned("pm_nothing_here-0.0.0-py3-none-any.whl", SHA)
    (tmp_path / pinned.file).write_bytes(b"not the pinned content")
    with pytest.raises(realwheels.CorpusError, match="pip download did not give pm_nothing_here"):
        realwheels.fetch(pinned, tmp_path, log=False)


def test_score_tells_false_alarms_from_missed_over_claims() -> None:
    def wheel(name: str, verdict: str) -> realwheels.CorpusWheel:
        return realwheels.CorpusWheel(f"{name}-1-py3-none-any.whl", SHA, verdict, reason="r")

    corpus = realwheels.Corpus(
        (wheel("a", "honest"), wheel("b", "over-claim"), wheel("c", "honest"), wheel("d", "honest")), ()
    )
    document = {
        "wheels": [
            {"file": "a-1-py3-none-any.whl", "verdict": "honest"},
            {"file": "b-1-py3-none-any.whl", "verdict": "honest"},
            {"file": "c-1-py3-none-any.whl", "verdict": "over-claim"},
        ]
    }
    score = realwheels.score(corpus, document)
    assert (score.total, score.right, score.over_claims) == (4, 1, 1)
    assert [len(x) for x in (score.false_alarms, score.missed, score.wrong)] == [1, 1, 1]
    assert "c-1-py3-none-any.whl: expected honest, got over-claim" in score.false_alarms[0]
    assert "d-1-py3-none-any.whl: expected honest, got no result" in score.wrong[0]
    assert score.describe().startswith("1 of 4 verdicts right (1 over-claims in the corpus); false alarms: 1")
