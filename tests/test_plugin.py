"""The pytest plugin end to end, with pytester: options, ids, xdist parity, baselines, outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytester_grid import CONFTEST, TEST_FILE, load_json, run

pytest_plugins = ["pytester"]


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("ALBENCH_TEST_WORSEN", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_grid=TEST_FILE)
    pytester.makeini("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
    return pytester


class ParserSpy:
    """A plugin that keeps the parser pytest hands to ``pytest_addoption``, to read what was registered."""

    parser: pytest.Parser | None = None

    def pytest_addoption(self, parser: pytest.Parser) -> None:
        self.parser = parser

    def albench_options(self) -> set[str]:
        """The long names of every option in the plugin's group: the option table plus the flags."""
        assert self.parser is not None, "pytest_addoption was never called"
        group = self.parser.getgroup("albench")
        return {name for option in group.options for name in option.names() if name.startswith("--")}


class TestOptions:
    def test_help_lists_every_option(self, pytester: pytest.Pytester) -> None:
        """Every option the plugin registers in its group, read from pytest's own parser, is in --help."""
        parser = ParserSpy()
        result = pytester.runpytest("--help", plugins=[parser])
        registered = parser.albench_options()
        listed = set(re.findall(r"^  (--albench-[a-z-]+)", result.stdout.str(), flags=re.MULTILINE))
        assert "--albench-profile" in registered and "--albench-no-progress" in registered  # the spy saw the group
        assert sorted(registered - listed) == []

    def test_header_shows_resolved_settings(self, pytester: pytest.Pytester) -> None:
        pytester.makepyfile("def test_nothing(): pass")
        result = pytester.runpytest("--albench-seeds=0-2", "--albench-profile=smoke")
        result.stdout.fnmatch_lines(["albench: profile=smoke protocol=default seeds=0,1,2 *"])

    @pytest.mark.parametrize(
        "args, message",
        [
            (["--albench-profile=huge"], "*--albench-profile: invalid value 'huge'*smoke*"),
            (["--albench-seeds=x"], "*--albench-seeds: cannot parse 'x'*"),
            (["--albench-compare=maybe"], "*--albench-compare: invalid value*"),
            (["--albench-alpha=2"], "*--albench-alpha: '2' must lie strictly between 0 and 1*"),
        ],
    )
    def test_bad_values_are_usage_errors(self, pytester: pytest.Pytester, args: list[str], message: str) -> None:
        pytester.makepyfile("def test_nothing(): pass")
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([message])

    def test_relative_data_dir_is_relative_to_the_ini_file_or_the_invocation_dir(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("ALBENCH_DATA_DIR", raising=False)
        pytester.makeini("[pytest]\nalbench_data_dir = data\n")
        pytester.makepyfile("def test_nothing(): pass")
        sub = pytester.mkdir("sub")
        (sub / "mine").mkdir()  # a --albench-data-dir given on the command line must exist
        monkeypatch.chdir(sub)
        ini_args = ("-c", str(pytester.path / "tox.ini"), "--rootdir", str(pytester.path))
        from_ini = pytester.runpytest(*ini_args, str(pytester.path))
        from_ini.stdout.fnmatch_lines([f"albench: * data-dir={pytester.path / 'data'}"])
        from_cli = pytester.runpytest(*ini_args, "--albench-data-dir=mine", str(pytester.path))
        from_cli.stdout.fnmatch_lines([f"albench: * data-dir={sub / 'mine'}"])

    def test_ini_keys_are_read(self, pytester: pytest.Pytester) -> None:
        pytester.makeini("[pytest]\nalbench_profile = full\nalbench_seeds = 4,5\n")
        pytester.makepyfile("def test_nothing(): pass")
        pytester.runpytest().stdout.fnmatch_lines(["albench: profile=full protocol=default seeds=4,5 *"])


class TestGrid:
    def test_ids_read_dataset_embedding_strategy_and_tables_are_printed(self, suite: pytest.Pytester) -> None:
        result = run(suite, "-v", "--albench-compare=off")
        result.assert_outcomes(passed=3)
        result.stdout.fnmatch_lines(
            [
                "*test_al?bbc_news-tfidf-lsa-random? *PASSED*",
                "*pytest-albench results*",
                "AULC ranking: tfidf-lsa / bbc_news*",
                "*Mean rank of each strategy*",
                "*Pairwise wins/ties/losses*",
            ]
        )

    def test_same_tables_and_json_with_and_without_xdist(self, suite: pytest.Pytester, tmp_path: Path) -> None:
        serial, parallel = tmp_path / "serial.json", tmp_path / "parallel.json"
        run(suite, f"--albench-json={serial}", "--albench-compare=off").assert_outcomes(passed=3)
        result = run(suite, "-n", "2", f"--albench-json={parallel}", "--albench-compare=off")
        result.assert_outcomes(passed=3)
        strip = lambda doc: [  # noqa: E731 - timings and thread counts legitimately differ
            {
                k: ([{kk: vv for kk, vv in r.items() if not kk.endswith("time_s")} for r in v] if k == "runs" else v)
                for k, v in case.items()
                if k not in ("environment",)
            }
            for case in doc["cases"]
        ]
        assert strip(load_json(serial)) == strip(load_json(parallel))
        result.stdout.fnmatch_lines(["AULC ranking: tfidf-lsa / bbc_news*"])

    def test_csv_and_markdown_outputs(self, suite: pytest.Pytester, tmp_path: Path) -> None:
        csv_path, md_path = tmp_path / "r.csv", tmp_path / "r.md"
        run(suite, f"--albench-csv={csv_path}", f"--albench-markdown={md_path}", "--albench-compare=off")
        lines = csv_path.read_text().splitlines()
        assert lines[0].startswith("case_id,dataset,embedding,strategy") and len(lines) == 1 + 3 * 3
        markdown = md_path.read_text()
        assert "### AULC ranking: tfidf-lsa / bbc_news" in markdown
        header = next(line for line in markdown.splitlines() if line.startswith("| rank"))
        assert [cell.strip() for cell in header.strip("|").split("|")][:3] == ["rank", "strategy", "AULC (mean ± std)"]
        assert sum(line.startswith("| ") and "tfidf" not in line for line in markdown.splitlines()) >= 3


class TestBaselines:
    def test_lifecycle_new_ok_regressed_stale(self, suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        result = run(suite)
        result.assert_outcomes(passed=3)
        result.stdout.fnmatch_lines(["*test_al[[]bbc_news-tfidf-lsa-mine[]]*new*"])

        strict = run(suite, "--albench-compare=strict")
        strict.assert_outcomes(failed=3)
        strict.stdout.fnmatch_lines(["*[[]albench new[]]*--albench-update=new*"])

        run(suite, "--albench-update=new").assert_outcomes(passed=3)
        written = sorted(p.name for p in (suite.path / "baselines" / "default" / "test_grid").iterdir())
        assert written == [f"test_al[bbc_news-tfidf-lsa-{s}].json" for s in ("entropy", "mine", "random")]

        again = run(suite, "--albench-compare=strict")
        again.assert_outcomes(passed=3)
        again.stdout.fnmatch_lines(["*test_al[[]bbc_news-tfidf-lsa-mine[]]*ok*"])

        monkeypatch.setenv("ALBENCH_TEST_WORSEN", "1")
        worse = run(suite)
        worse.assert_outcomes(passed=2, failed=1)
        worse.stdout.fnmatch_lines(
            [
                "*[[]albench regressed[]] test_al[[]bbc_news-tfidf-lsa-mine[]]: AULC regressed: mean drop*",
                "*seed*baseline AULC*current AULC*difference*",
            ]
        )
        monkeypatch.delenv("ALBENCH_TEST_WORSEN")

        suite.makepyfile(test_grid=TEST_FILE.replace("cycles=3", "cycles=4"))
        stale = run(suite)
        stale.assert_outcomes(passed=3)
        stale.stdout.fnmatch_lines(["*test_al[[]bbc_news-tfidf-lsa-mine[]]*stale*"])

    def test_corrupt_baseline_names_the_file(self, suite: pytest.Pytester) -> None:
        run(suite, "--albench-update=new").assert_outcomes(passed=3)
        broken = suite.path / "baselines" / "default" / "test_grid" / "test_al[bbc_news-tfidf-lsa-mine].json"
        broken.write_text('{"format_version": 1, "per_seed": ')
        result = run(suite)
        result.assert_outcomes(passed=2, failed=1)
        assert f"BaselineFileError: baseline file {broken} is not valid JSON" in result.stdout.str()
        assert broken.read_text() == '{"format_version": 1, "per_seed": '  # never overwritten silently


class TestRobustness:
    def test_a_crashed_worker_loses_its_case_not_the_tables(self, suite: pytest.Pytester) -> None:
        suite.makepyfile(test_grid=TEST_FILE.replace('"entropy"]', '"crashes"]'))
        result = run(suite, "-n", "2", "--albench-compare=off")
        result.assert_outcomes(passed=2, failed=1)
        result.stdout.fnmatch_lines(
            [
                "*AULC ranking: tfidf-lsa / bbc_news*",
                "*test_al[[]bbc_news-tfidf-lsa-crashes[]]*no result*",
            ]
        )

    def test_unknown_names_fail_the_case_with_the_valid_names(self, suite: pytest.Pytester) -> None:
        suite.makepyfile(
            test_bad="""
def test_bad(albench):
    albench("bbc_news", "tfidf-lsa", "margn")
"""
        )
        result = run(suite, "test_bad.py", "--albench-compare=off")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*UnknownNameError: unknown strategy 'margn'. Did you mean 'margin'*"])
