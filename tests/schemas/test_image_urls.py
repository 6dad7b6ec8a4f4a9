"""The one rule for picture URLs (`schemas.image_urls`): what an event keeps of one, and why not."""

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.image_urls import MAX_IMAGE_URL, judge_image_url

ID_NUMBER = "430112199203154512"
"""A valid GB 11643 number (check digit 2), as vendors put one in a snapshot's name."""


class TestJudgeImageUrl:
    """`judge_image_url` keeps `scheme://host[:port]/path` of an http(s) URL, or says why not."""

    @pytest.mark.parametrize(
        ("url", "kept"),
        [
            ("http://10.0.0.1/v.jpg", "http://10.0.0.1/v.jpg"),
            ("HTTPS://Cam.example.cn:8443/a/b.jpg", "https://Cam.example.cn:8443/a/b.jpg"),
            ("http://admin:secret@10.0.0.1/v.jpg", "http://10.0.0.1/v.jpg"),
            ("http://admin@[fd00::30]:8080/p/1.jpg", "http://[fd00::30]:8080/p/1.jpg"),
            ("http://10.0.0.1/v.jpg?user=admin&pwd=secret#top", "http://10.0.0.1/v.jpg"),
            (
                "http://10.0.0.1/p?name=%E6%AC%A7%E9%98%B3%E9%94%8B&id=4301121992031545%31%32",
                "http://10.0.0.1/p",
            ),
            ("  http://10.0.0.1/a b.jpg ", "http://10.0.0.1/a%20b.jpg"),
            ("http://10.0.0.1/a%20b.jpg", "http://10.0.0.1/a%20b.jpg"),
            ("http://10.0.0.1", "http://10.0.0.1"),
        ],
    )
    def test_kept_without_login_query_or_fragment(self, url: str, kept: str) -> None:
        assert judge_image_url(url) == (kept, None)

    @pytest.mark.parametrize(
        "url",
        [
            "javascript:alert(1)",
            "data:image/jpeg;base64,/9j/4AAQSkZJRg==",
            "ftp://10.0.0.1/a.jpg",
            "file:///etc/passwd",
            "/pic/1.jpg",
            "http://",
            "http:///a.jpg",
            "http://[fd00::30/a.jpg",
            "http://10.0.0.1:99999/a.jpg",
            "http://10.0.0.1/a\x00.jpg",
            "http://10.0.0.1/a\r\nSet-Cookie: x",
            "http://例子.cn/a.jpg",
            "http://10.0.0.1/\ud800.jpg",
        ],
    )
    def test_what_is_no_http_reference_is_not_a_url(self, url: str) -> None:
        assert judge_image_url(url) == (None, "not_a_url")

    @pytest.mark.parametrize(
        "url",
        [
            "http://10.0.0.1/snap/13812345678.jpg",
            f"http://10.0.0.1/{ID_NUMBER}/a.jpg",
            "http://10.0.0.1/snap/%31%33%38%31%32%33%34%35%36%37%38.jpg",
            "http://10.0.0.1/snap/138%2531234%2535678.jpg",
            "http://admin@138-1234-5678.example.cn/a.jpg",
            "http://10.0.0.1/%13912345678.jpg",  # decoding makes `%13` a control character
            "http://10.0.0.1/%2513912345678.jpg",  # ...one step later
            "http://10.0.0.1/%252513912345678.jpg",
            "http://10.0.0.1/%0013812345678.jpg",
            "http://10.0.0.1/1%33912345678.jpg",  # only the decoded path shows it
            "http://10.0.0.1/11010519491231002.jpg",  # an ID number without its check digit
        ],
    )
    def test_a_personal_number_as_written_or_at_any_decoding_step_is_pii(self, url: str) -> None:
        assert judge_image_url(url) == (None, "pii_in_identifier")

    @pytest.mark.parametrize(
        "url",
        [
            "http://10.0.0.1/a%0D%0ASet-Cookie:%20x",
            "http://10.0.0.1/a%00.jpg",
            "http://10.0.0.1/a%250A.jpg",
            "http://10.0.0.1/a%C2%85.jpg",
            "http://10.0.0.1/a%E2%80%A8.jpg",
        ],
    )
    def test_a_path_decoding_to_control_characters_is_not_a_url(self, url: str) -> None:
        assert judge_image_url(url) == (None, "not_a_url")

    @pytest.mark.parametrize(
        "url",
        [
            "http://10.0.0.1/欧阳锋.jpg",
            "http://10.0.0.1/%E6%AC%A7%E9%98%B3%E9%94%8B.jpg",
            "http://10.0.0.1/%25E6%25AC%25A7.jpg",
            "http://10.0.0.1/%C5%B7%D1%F4.jpg",  # GBK
        ],
    )
    def test_a_path_reading_as_non_ascii_text_is_dropped(self, url: str) -> None:
        assert judge_image_url(url) == (None, "non_ascii_path")

    def test_a_kept_url_is_at_most_the_maximum(self) -> None:
        base = "http://10.0.0.1/"
        assert judge_image_url(base + "a" * (MAX_IMAGE_URL - len(base)))[1] is None
        assert judge_image_url(base + "a" * (MAX_IMAGE_URL - len(base) + 1)) == (None, "too_long")
        assert judge_image_url(base + " " * MAX_IMAGE_URL + "a") == (None, "too_long")

    @pytest.mark.parametrize("url", ["", "   "])
    def test_blank_is_no_picture_and_no_drop(self, url: str) -> None:
        assert judge_image_url(url) == (None, None)

    @given(st.text(max_size=80).map(lambda tail: "http://admin:pw@10.0.0.1/" + tail))
    def test_judging_a_kept_url_again_keeps_it(self, url: str) -> None:
        kept, _ = judge_image_url(url)
        if kept is not None:
            assert judge_image_url(kept) == (kept, None)
            parts = urlsplit(kept)
            assert kept.isascii() and parts.username is None
            assert (parts.query, parts.fragment) == ("", "")
