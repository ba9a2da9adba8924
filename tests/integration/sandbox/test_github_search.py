"""GitHub's issue search in the sandbox: each qualifier against the sandbox's own state, each error as GitHub.

Expected results are computed here from ``github.state`` with plain Python, independently of the sandbox's
parser, so a test fails when the parser and the data disagree. Issues a test needs (a word only in a body,
a label with a space, ...) are created through ``/_sandbox/mutate`` with a marker word no seeded text has.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from typing import Any

import github as pygithub
import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox

pytestmark = pytest.mark.integration

SEARCH = "/search/issues"
REPO = "repo:acme/widgets"
MARKER = "zqxmarker"  # no seeded title, body or comment contains it
DAY = 86_400


def _get(http: httpx.Client, q: str | None, **params: Any) -> httpx.Response:
    query = {k: str(v) for k, v in params.items()}
    if q is not None:
        query["q"] = q
    return http.get(SEARCH, params=query)


def _numbers(http: httpx.Client, q: str, **params: Any) -> list[int]:
    """Every result's number, walking the pages by their Link header (bounded)."""
    response = _get(http, q, per_page=100, **params)
    numbers: list[int] = []
    for _ in range(20):
        assert response.status_code == 200, response.text
        numbers += [item["number"] for item in response.json()["items"]]
        following = response.links.get("next", {}).get("url")
        if following is None:
            return numbers
        response = http.get(str(following))
    raise AssertionError("search pagination did not end")


def _found(http: httpx.Client, q: str) -> set[int]:
    return set(_numbers(http, q))


def _live(github: GitHubSandbox) -> list[Any]:
    return github.state.live_issues()


def _create(github: GitHubSandbox, **fields: Any) -> int:
    return int(github.mutate("create", fields=fields)["number"])


def _validation(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == "Validation Failed"
    assert body["documentation_url"]
    assert body["status"] == "422"
    [error] = body["errors"]
    assert (error["resource"], error["field"]) == ("Search", "q")
    return dict(error)


@pytest.fixture
def pygithub_client(github: GitHubSandbox) -> Iterator[pygithub.Github]:
    client = pygithub.Github(
        base_url=github.url,
        auth=pygithub.Auth.Token(github.token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        per_page=50,
    )
    try:
        yield client
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------- the shape


def test_answer_has_githubs_shape_with_scores(github: GitHubSandbox, github_http: httpx.Client) -> None:
    response = _get(github_http, f"{REPO} is:issue", per_page=10)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"total_count", "incomplete_results", "search_type", "items"}
    assert body["incomplete_results"] is False
    assert body["total_count"] == sum(1 for i in _live(github) if not i.pull)
    assert len(body["items"]) == 10
    first = body["items"][0]
    listed = github_http.get(f"/repos/acme/widgets/issues/{first['number']}").json()
    # The item is the issue as the issue endpoints render it (less the single-issue closed_by), plus score.
    assert {k: v for k, v in first.items() if k != "score"} == {
        k: v for k, v in listed.items() if k != "closed_by"
    }
    assert first["score"] == 1.0


def test_pages_follow_the_link_header_and_total_count(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    first = _get(github_http, f"{REPO} is:open", per_page=20)

    expected = sorted((i.number for i in _live(github) if i.state == "open"), reverse=True)
    assert first.json()["total_count"] == len(expected)
    assert "next" in first.links
    assert "last" in first.links
    assert _numbers(github_http, f"{REPO} is:open") == expected  # best match ties: newest first


# ---------------------------------------------------------------------------------------------- qualifiers


@pytest.mark.parametrize(
    ("qualifier", "pull"),
    [
        ("is:issue", False),
        ("type:issue", False),
        ("is:pr", True),
        ("type:pr", True),
        ("is:pull-request", True),
    ],
)
def test_is_and_type_split_issues_from_pull_requests(
    github: GitHubSandbox, github_http: httpx.Client, qualifier: str, pull: bool
) -> None:
    assert _found(github_http, f"{REPO} {qualifier}") == {i.number for i in _live(github) if i.pull == pull}


@pytest.mark.parametrize("qualifier", ["is:open", "is:closed", "state:open", "state:closed"])
def test_open_and_closed(github: GitHubSandbox, github_http: httpx.Client, qualifier: str) -> None:
    wanted = qualifier.split(":")[1]

    assert _found(github_http, f"{REPO} {qualifier}") == {
        i.number for i in _live(github) if i.state == wanted
    }


def test_labels_quoted_repeated_listed_and_excluded(github: GitHubSandbox, github_http: httpx.Client) -> None:
    both = _create(github, title=f"{MARKER} both", labels=["good first issue", "bug"])
    spaced = _create(github, title=f"{MARKER} spaced", labels=["good first issue"])
    plain = _create(github, title=f"{MARKER} plain", labels=["bug"])
    _create(github, title=f"{MARKER} none")

    assert _found(github_http, f'{REPO} {MARKER} label:"good first issue"') == {both, spaced}
    assert _found(github_http, f'{REPO} {MARKER} label:"Good First Issue" label:bug') == {both}
    assert _found(github_http, f'{REPO} {MARKER} label:bug,"good first issue"') == {both, spaced, plain}
    assert _found(github_http, f'{REPO} {MARKER} label:bug -label:"good first issue"') == {plain}
    seeded = {i.number for i in _live(github) if "bug" in i.labels}
    assert _found(github_http, f"{REPO} label:BUG") == seeded


def test_author_assignee_and_no_assignee(github: GitHubSandbox, github_http: httpx.Client) -> None:
    issues = _live(github)
    author = issues[0].user
    assignee = next(i.assignees[0] for i in issues if i.assignees)

    assert _found(github_http, f"{REPO} author:{author}") == {i.number for i in issues if i.user == author}
    assert _found(github_http, f"{REPO} -author:{author}") == {i.number for i in issues if i.user != author}
    assert _found(github_http, f"{REPO} assignee:{assignee.upper()}") == {
        i.number for i in issues if assignee in i.assignees
    }
    assert _found(github_http, f"{REPO} no:assignee") == {i.number for i in issues if not i.assignees}
    assert _found(github_http, f"{REPO} assignee:*") == {i.number for i in issues if i.assignees}
    mine = _create(github, title=f"{MARKER} filed by the token's owner")
    assert _found(github_http, f"{REPO} {MARKER} author:@me") == {mine}


def test_in_restricts_where_text_is_looked_for(github: GitHubSandbox, github_http: httpx.Client) -> None:
    in_title = _create(github, title=f"Title has {MARKER}")
    in_body = _create(github, title="Only the body", body=f"The body has {MARKER.upper()}.")
    in_comment = _create(github, title="Only a comment")
    github.mutate("comment", number=in_comment, body=f"A comment with {MARKER}")

    assert _found(github_http, f"{REPO} {MARKER}") == {in_title, in_body, in_comment}  # GitHub's default: all
    assert _found(github_http, f"{REPO} {MARKER} in:title") == {in_title}
    assert _found(github_http, f"{REPO} {MARKER} in:body") == {in_body}
    assert _found(github_http, f"{REPO} {MARKER} in:comments") == {in_comment}
    assert _found(github_http, f"{REPO} {MARKER} in:title,body") == {in_title, in_body}


def test_free_text_phrases_and_not(github: GitHubSandbox, github_http: httpx.Client) -> None:
    ordered = _create(github, title=f"{MARKER} disk full on db1")
    shuffled = _create(github, title=f"{MARKER} full disk on db2")

    assert _found(github_http, f"{REPO} {MARKER} Disk FULL") == {ordered, shuffled}  # any order, any case
    assert _found(github_http, f'{REPO} {MARKER} "disk full"') == {ordered}  # a phrase keeps its order
    assert _found(github_http, f"{REPO} {MARKER} NOT db2") == {ordered}
    assert _found(github_http, f"{REPO} {MARKER} disk AND db1") == {ordered}
    assert _found(github_http, f"{REPO} {MARKER} dis") == set()  # whole words, not substrings


def test_punctuated_terms_match_as_words_in_a_row(github: GitHubSandbox, github_http: httpx.Client) -> None:
    marked = _create(github, title="Searchable tb-contract-marker")
    _create(github, title="marker contract tb, in another order")

    assert _found(github_http, f"{REPO} tb-contract-marker") == {marked}


def test_unknown_qualifiers_are_text(github: GitHubSandbox, github_http: httpx.Client) -> None:
    texty = _create(github, title=f"{MARKER} handles colour:blue in the theme")
    _create(github, title=f"{MARKER} handles red")

    assert _found(github_http, f"{REPO} {MARKER} colour:blue") == {texty}


def test_created_and_updated_ranges(github: GitHubSandbox, github_http: httpx.Client) -> None:
    issues = _live(github)
    pivot = issues[len(issues) // 2]
    day = pivot.created_at - pivot.created_at % DAY  # midnight UTC of the pivot's creation
    date = _date(day)
    later = _date(issues[-10].updated_at - issues[-10].updated_at % DAY)

    cases = {
        f"created:>={date}": lambda i: i.created_at >= day,
        f"created:>{date}": lambda i: i.created_at >= day + DAY,
        f"created:<{date}": lambda i: i.created_at < day,
        f"created:<={date}": lambda i: i.created_at < day + DAY,
        f"created:{date}": lambda i: day <= i.created_at < day + DAY,
        f"created:{date}..{later}": lambda i: day <= i.created_at < _epoch(later) + DAY,
        f"created:*..{date}": lambda i: i.created_at < day + DAY,
        f"updated:>={later}": lambda i: i.updated_at >= _epoch(later),
        f"updated:<{date}T12:00:00Z": lambda i: i.updated_at < day + DAY // 2,
    }
    for qualifier, wanted in cases.items():
        expected = {i.number for i in issues if wanted(i)}
        assert _found(github_http, f"{REPO} {qualifier}") == expected, qualifier
    assert _found(github_http, f"{REPO} created:{date}") >= {pivot.number}


def test_comments_count_and_closed_date(github: GitHubSandbox, github_http: httpx.Client) -> None:
    issues = _live(github)
    commented = _create(github, title=f"{MARKER} talked about")
    for text in ("one", "two", "three", "four"):
        github.mutate("comment", number=commented, body=text)

    assert _found(github_http, f"{REPO} {MARKER} comments:>3") == {commented}
    assert _found(github_http, f"{REPO} comments:0") == {i.number for i in issues if i.comments == 0}
    assert _found(github_http, f"{REPO} closed:>=2000-01-01") == {i.number for i in issues if i.closed_at}


def test_commenter_and_mentions(github: GitHubSandbox, github_http: httpx.Client) -> None:
    discussed = _create(github, title=f"{MARKER} discussed")
    github.mutate("comment", number=discussed, body="I can take it", actor="ada-stone")
    mentioned = _create(github, title=f"{MARKER} mentioned", body="cc @ada-stone for review")

    assert _found(github_http, f"{REPO} {MARKER} commenter:ada-stone") == {discussed}
    assert _found(github_http, f"{REPO} {MARKER} mentions:ada-stone") == {mentioned}
    assert _found(github_http, f"{REPO} {MARKER} involves:ada-stone") == {discussed, mentioned}


def test_qualifiers_for_data_the_sandbox_never_has_match_nothing(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    everything = {i.number for i in _live(github)}

    assert _found(github_http, f'{REPO} milestone:"v1.0"') == set()
    assert _found(github_http, f'{REPO} -milestone:"v1.0"') == everything
    assert _found(github_http, f"{REPO} no:milestone") == everything
    assert _found(github_http, f"{REPO} is:private language:python") == everything


# ---------------------------------------------------------------------------------------------- scope


def test_scope_is_the_repository_the_caller_can_see(github: GitHubSandbox, github_http: httpx.Client) -> None:
    everything = {i.number for i in _live(github)}

    assert _found(github_http, "org:acme") == everything
    assert _found(github_http, "REPO:ACME/WIDGETS") == everything  # names are case-insensitive
    assert _found(github_http, "-repo:acme/widgets") == set()
    no_scope = _get(github_http, "is:issue")
    assert no_scope.json()["total_count"] == sum(1 for i in _live(github) if not i.pull)


@pytest.mark.parametrize(
    "q", ["repo:acme/other is:issue", "repo:nobody/widgets", "user:someone-else", "repo:acme"]
)
def test_unknown_repositories_and_owners_are_422(github_http: httpx.Client, q: str) -> None:
    error = _validation(_get(github_http, q))

    assert error["code"] == "invalid"
    assert error["message"].startswith("The listed users and repositories cannot be searched")


def test_a_caller_who_cannot_see_the_repository_finds_nothing(github: GitHubSandbox) -> None:
    headers = {"Authorization": f"token {github.outsider_token}"}
    with httpx.Client(base_url=github.url, headers=headers, trust_env=False, timeout=60) as outsider:
        assert _get(outsider, "is:issue").json()["total_count"] == 0
        assert _validation(_get(outsider, f"{REPO} is:issue"))["code"] == "invalid"


# ---------------------------------------------------------------------------------------------- order


def test_best_match_ranks_title_hits_above_body_hits(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    body_hit = _create(github, title="Something else entirely", body=f"mentions {MARKER} once")
    title_hit = _create(github, title=f"{MARKER} in the title")

    items = _get(github_http, f"{REPO} {MARKER}").json()["items"]

    assert [i["number"] for i in items] == [title_hit, body_hit]
    assert items[0]["score"] > items[1]["score"] > 0
    # order without sort is ignored, as on GitHub
    asc = _get(github_http, f"{REPO} {MARKER}", order="asc").json()["items"]
    assert [i["number"] for i in asc] == [title_hit, body_hit]


@pytest.mark.parametrize(
    ("sort", "field"), [("created", "created_at"), ("updated", "updated_at"), ("comments", "comments")]
)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_and_order(
    github: GitHubSandbox, github_http: httpx.Client, sort: str, field: str, order: str
) -> None:
    got = _numbers(github_http, f"{REPO} is:issue", sort=sort, order=order)

    issues = [i for i in _live(github) if not i.pull]
    expected = sorted(issues, key=lambda i: (getattr(i, field), i.number), reverse=order == "desc")
    assert got == [i.number for i in expected]


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("q", [None, "", "   "])
def test_missing_query_is_422_missing(github_http: httpx.Client, q: str | None) -> None:
    assert _validation(_get(github_http, q)) == {"resource": "Search", "field": "q", "code": "missing"}


@pytest.mark.parametrize(
    ("q", "says"),
    [
        (f'{REPO} "never closed', "never closed"),
        (f"{REPO} " + "word " * 60, "longer than 256 characters"),
        (f"{REPO} a AND b AND c AND d AND e AND f AND g", "more than 5"),
        (f"{REPO} disk OR memory", "OR"),
        (f"{REPO} created:>yesterday", "not a date"),
        (f"{REPO} comments:>many", "not a whole number"),
        (f"{REPO} is:everything", "is:everything"),
        (f"{REPO} state:resolved", "state:resolved"),
        (f"{REPO} in:labels", "in:labels"),
        (f"{REPO} no:reviewer", "no:reviewer"),
    ],
)
def test_unparseable_queries_are_422_invalid(github_http: httpx.Client, q: str, says: str) -> None:
    error = _validation(_get(github_http, q))

    assert error["code"] == "invalid"
    assert says in error["message"]


def test_qualifiers_alone_are_not_limited_to_256_characters(github_http: httpx.Client) -> None:
    q = " ".join([REPO, *["-label:nothing-like-this-label"] * 12])
    assert len(q) > 256

    assert _get(github_http, q).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [({"sort": "stars"}, "sort"), ({"order": "up"}, "order"), ({"per_page": "abc"}, "per_page")],
)
def test_bad_parameters_are_422(github_http: httpx.Client, params: dict[str, str], field: str) -> None:
    response = _get(github_http, REPO, **params)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_only_the_first_1000_results_can_be_paged_to(
    github: GitHubSandbox, github_http: httpx.Client
) -> None:
    github.reset(issues=1_050, comments_per_issue=0)

    last = _get(github_http, REPO, per_page=100, page=10)
    beyond = _get(github_http, REPO, per_page=100, page=11)
    straddling = _get(github_http, REPO, per_page=30, page=34)  # starts at result 991
    clamped = _get(github_http, REPO, per_page=500)

    assert last.status_code == 200, last.text
    assert last.json()["total_count"] == 1_050  # the count is not capped, only the reachable results
    assert len(last.json()["items"]) == 100
    assert "next" not in last.links
    assert beyond.status_code == 422
    assert beyond.json()["message"] == "Only the first 1000 search results are available"
    assert "errors" not in beyond.json()
    assert [i["number"] for i in straddling.json()["items"]] == list(range(1_050 - 990, 1_050 - 1000, -1))
    assert len(clamped.json()["items"]) == 100
    assert _get(github_http, f"{REPO} is:closed", per_page=100, page=11).status_code == 422  # even when fewer


# ---------------------------------------------------------------------------------------------- rate limit


def test_search_has_its_own_rate_limit_bucket(github: GitHubSandbox, github_http: httpx.Client) -> None:
    core_before = github_http.get("/rate_limit").json()["resources"]["core"]["used"]
    answers = [_get(github_http, REPO, per_page=1) for _ in range(30)]

    assert all(a.status_code == 200 for a in answers)
    assert {a.headers["x-ratelimit-resource"] for a in answers} == {"search"}
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {"30"}
    assert [int(a.headers["x-ratelimit-remaining"]) for a in answers] == list(range(29, -1, -1))
    spent = _get(github_http, REPO)
    assert spent.status_code == 403
    assert spent.headers["x-ratelimit-remaining"] == "0"
    assert spent.headers["x-ratelimit-resource"] == "search"
    assert "API rate limit exceeded" in spent.json()["message"]
    limits = github_http.get("/rate_limit").json()["resources"]
    assert limits["search"]["remaining"] == 0
    assert limits["core"]["used"] == core_before  # searching never touched core
    issue = github_http.get("/repos/acme/widgets/issues/1")
    assert issue.status_code == 200
    assert issue.headers["x-ratelimit-resource"] == "core"


def test_anonymous_search_gets_ten_a_minute(github: GitHubSandbox) -> None:
    with httpx.Client(base_url=github.url, trust_env=False, timeout=60) as anonymous:
        answers = [_get(anonymous, "is:issue") for _ in range(11)]

    assert [a.status_code for a in answers] == [200] * 10 + [403]
    assert answers[0].headers["x-ratelimit-limit"] == "10"
    assert answers[0].json()["total_count"] == 0  # the repository is private


# ---------------------------------------------------------------------------------------------- PyGithub


def test_pygithub_search_issues_returns_what_the_state_says(
    github: GitHubSandbox, pygithub_client: pygithub.Github
) -> None:
    results = pygithub_client.search_issues(
        "", sort="created", order="asc", repo="acme/widgets", state="open"
    )

    expected = [i for i in _live(github) if i.state == "open"]
    assert results.totalCount == len(expected)
    found = list(results)
    assert [r.number for r in found] == [i.number for i in expected]
    assert [r.title for r in found] == [i.title for i in expected]
    assert {r.score for r in found} == {1.0}
    assert sum(1 for r in found if r.pull_request is not None) == sum(1 for i in expected if i.pull)


def _date(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _epoch(date: str) -> int:
    year, month, day = (int(part) for part in date.split("-"))
    return calendar.timegm((year, month, day, 0, 0, 0))
