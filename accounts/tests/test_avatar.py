"""The avatar pipeline: real JPEG/PNG/WebP only, re-encoded, random names, nothing left behind."""

import io
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from accounts.tests.images import huge_single_colour_png, image_bytes, jpeg_with_gps, upload
from common import images
from common.exceptions import ValidationFailed
from common.tests.utils import assert_error, assert_ok, bearer
from testkit import hostile_images


def files_in(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def register(client, avatar, username="pic"):
    return client.post(
        "/auth/register",
        {
            "username": username,
            "name": "Pic",
            "email": f"{username}@example.com",
            "password": "a-long-passphrase",
            "avatar": avatar,
        },
        format="multipart",
    )


@pytest.fixture
def media(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


@pytest.mark.django_db
class TestAccepted:
    @pytest.mark.parametrize(
        ("fmt", "ext", "content_type"),
        [("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"), ("WEBP", "webp", "image/webp")],
    )
    def test_real_images_are_accepted_and_re_encoded(self, api_client, media, fmt, ext, content_type):
        original = image_bytes(fmt)
        data = assert_ok(register(api_client, upload(original, f"../../etc/evil.{ext}", content_type)), 201)
        stored = files_in(media)
        assert len(stored) == 1
        name = stored[0]
        assert name.startswith("avatars/") and name.endswith(f".{ext}") and "evil" not in name
        assert data["avatar_url"] == f"http://testserver/media/{name}"
        with Image.open(media / name) as image:
            assert image.format == fmt
            assert image.size == (64, 48)

    def test_name_and_declared_type_do_not_matter_only_content(self, api_client, media):
        data = assert_ok(register(api_client, upload(image_bytes("PNG"), "photo.gif", "application/octet-stream")), 201)
        assert data["avatar_url"].endswith(".png")

    def test_exif_and_gps_do_not_survive(self, api_client, media):
        source = jpeg_with_gps()
        assert Image.open(io.BytesIO(source)).getexif().get_ifd(0x8825)
        assert_ok(register(api_client, upload(source, "gps.jpg", "image/jpeg")), 201)
        (name,) = files_in(media)
        with Image.open(media / name) as image:
            exif = image.getexif()
            assert not exif.get_ifd(0x8825)
            assert 0x010F not in exif
        assert b"Spy Camera" not in (media / name).read_bytes()

    def test_avatar_is_served_by_the_service(self, api_client, media):
        data = assert_ok(register(api_client, upload(image_bytes("PNG"))), 201)
        response = api_client.get(data["avatar_url"].removeprefix("http://testserver"))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def php_appended_png() -> bytes:
    return image_bytes("PNG") + b"<?php system($_GET['cmd']); ?>"


def truncated_png() -> bytes:
    noisy = io.BytesIO()
    Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)).save(noisy, "PNG")
    return noisy.getvalue()[: len(noisy.getvalue()) // 2]


@pytest.mark.django_db
class TestRejected:
    @pytest.mark.parametrize(
        ("make", "name", "content_type"),
        [
            (lambda: b"just some text, honest", "notes.png", "image/png"),
            (
                lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                "x.svg",
                "image/svg+xml",
            ),
            (lambda: image_bytes("GIF"), "anim.gif", "image/gif"),
            (lambda: image_bytes("BMP"), "old.bmp", "image/bmp"),
            (truncated_png, "cut.png", "image/png"),
            (php_appended_png, "shell.png", "image/png"),
            (lambda: image_bytes("JPEG") + b"<?php echo 1; ?>", "shell.jpg", "image/jpeg"),
            (lambda: image_bytes("WEBP") + b"<?php echo 1; ?>", "shell.webp", "image/webp"),
            (huge_single_colour_png, "bomb.png", "image/png"),
            (lambda: b"", "empty.png", "image/png"),
        ],
    )
    def test_bad_files_are_400_and_leave_nothing(self, api_client, media, make, name, content_type):
        details = assert_error(register(api_client, upload(make(), name, content_type)), 400, "VALIDATION_ERROR")
        assert "avatar" in details
        assert files_in(media) == []
        assert User.objects.count() == 0

    def test_file_over_the_limit_is_413(self, api_client, media, settings):
        settings.MAX_UPLOAD_MB = 1
        big = image_bytes("PNG") + b"\0" * (1024 * 1024 + 1)
        assert_error(register(api_client, upload(big)), 413, "PAYLOAD_TOO_LARGE")
        assert files_in(media) == []
        assert User.objects.count() == 0

    def test_conflict_after_a_valid_avatar_leaves_no_file(self, api_client, media):
        assert_ok(register(api_client, upload(image_bytes("PNG")), username="first"), 201)
        before = files_in(media)
        response = api_client.post(
            "/auth/register",
            {
                "username": "FIRST",
                "name": "x",
                "email": "other@example.com",
                "password": "a-long-passphrase",
                "avatar": upload(image_bytes("PNG")),
            },
            format="multipart",
        )
        assert_error(response, 409, "CONFLICT")
        assert files_in(media) == before


@pytest.mark.django_db
class TestProfileAvatar:
    def token(self, client, user):
        from common.tests.factories import PASSWORD

        return assert_ok(client.post("/auth/login", {"username": user.username, "password": PASSWORD}))["access_token"]

    def test_replace_then_delete_removes_old_files(self, api_client, media, user):
        token = self.token(api_client, user)
        first = assert_ok(
            api_client.patch("/users/me", {"avatar": upload(image_bytes("PNG"))}, format="multipart", **bearer(token))
        )
        (first_name,) = files_in(media)
        second = assert_ok(
            api_client.put(
                "/users/me",
                {"avatar": upload(image_bytes("JPEG"), "b.jpg", "image/jpeg")},
                format="multipart",
                **bearer(token),
            )
        )
        assert second["avatar_url"] != first["avatar_url"]
        (second_name,) = files_in(media)
        assert second_name != first_name and second_name.endswith(".jpg")
        data = assert_ok(api_client.delete("/users/me/avatar", **bearer(token)))
        assert data["avatar_url"] is None
        assert files_in(media) == []

    def test_rejected_replacement_keeps_the_old_avatar(self, api_client, media, user):
        token = self.token(api_client, user)
        assert_ok(
            api_client.patch("/users/me", {"avatar": upload(image_bytes("PNG"))}, format="multipart", **bearer(token))
        )
        before = files_in(media)
        response = api_client.patch(
            "/users/me", {"avatar": upload(b"nope", "x.png"), "name": "Changed"}, format="multipart", **bearer(token)
        )
        assert_error(response, 400, "VALIDATION_ERROR")
        assert files_in(media) == before
        user.refresh_from_db()
        assert user.avatar.name == before[0] and user.name != "Changed"

    def test_soft_deleted_account_keeps_its_file(self, api_client, media, user):
        token = self.token(api_client, user)
        assert_ok(
            api_client.patch("/users/me", {"avatar": upload(image_bytes("PNG"))}, format="multipart", **bearer(token))
        )
        assert_ok(api_client.delete("/users/me", **bearer(token)))
        assert len(files_in(media)) == 1


def test_admin_can_set_and_remove_an_avatar(api_client, media, admin, login):
    token = login(admin)["access_token"]
    data = assert_ok(
        api_client.patch(
            "/admin/me",
            {"avatar": upload(image_bytes("WEBP"), "a.webp", "image/webp")},
            format="multipart",
            **bearer(token),
        )
    )
    assert data["avatar_url"].endswith(".webp") and len(files_in(media)) == 1
    assert assert_ok(api_client.delete("/admin/me/avatar", **bearer(token)))["avatar_url"] is None
    assert files_in(media) == []


@pytest.mark.django_db
class TestBoundedCost:
    @pytest.mark.parametrize(
        ("fmt", "size", "stored"),
        [("JPEG", (3000, 1500), (1024, 512)), ("PNG", (600, 2400), (256, 1024)), ("WEBP", (800, 600), (800, 600))],
    )
    def test_large_avatars_are_scaled_down_keeping_the_aspect_ratio(self, api_client, media, fmt, size, stored):
        data = assert_ok(register(api_client, upload(image_bytes(fmt, size), f"a.{fmt.lower()}")), 201)
        name = data["avatar_url"].split("/media/")[1]
        with Image.open(media / name) as image:
            assert image.size == stored

    @pytest.mark.parametrize("name", list(hostile_images.CORPUS))
    def test_the_hostile_corpus_is_answered_as_planned(self, api_client, media, name):
        """Scan bombs, animations and over-cap images are refused before decoding (their cost is
        measured by `make bench-avatars`); images at each format's cap are accepted and scaled."""
        make, status = hostile_images.CORPUS[name]
        response = register(api_client, upload(make(), "a.img"))
        assert response.status_code == status, response.json()
        if status == 400:
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
            assert files_in(media) == [] and not User.objects.exists()

    def test_the_scan_bomb_is_refused_by_its_scan_count(self):
        data = hostile_images.jpeg_scan_bomb(side=64, scans=100)
        assert hostile_images.jpeg_scans(data) == images.MAX_JPEG_SCANS + 1  # counting stops past the limit
        with pytest.raises(ValidationFailed) as refused:
            images.process_avatar(SimpleUploadedFile("a.jpg", data))
        assert refused.value.details == {"avatar": [f"Avatar JPEG may have at most {images.MAX_JPEG_SCANS} scans."]}

    def test_lossless_webp_has_a_lower_pixel_cap(self):
        with pytest.raises(ValidationFailed) as refused:
            images.process_avatar(SimpleUploadedFile("a.webp", hostile_images.lossless_webp(2500)))
        assert refused.value.details == {"avatar": ["Avatar must be at most 6 megapixels."]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (hostile_images.jpeg_with_comment, "JPEG"),
        (hostile_images.png_with_icc, "PNG"),
        (hostile_images.png_text_chunk, "PNG"),
    ],
)
def test_no_ancillary_segment_or_chunk_survives(api_client, media, make, fmt):
    data = make()
    payloads = (b"GPS", b"zTXt", b"iCCP")
    assert any(payload in data for payload in payloads)  # there is something to strip
    avatar = assert_ok(register(api_client, upload(data, "a.img")), 201)["avatar_url"]
    stored = (media / avatar.split("/media/")[1]).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == fmt
        assert not set(image.info) & {"comment", "icc_profile", "Comment", "exif", "xmp"}
    assert not any(payload in stored for payload in payloads) and len(stored) < 2_000


def test_avatar_uploads_are_rate_limited_per_account(api_client, db, settings, login):
    from common.tests.factories import UserFactory

    settings.AVATAR_RATE = "2/h"
    user = UserFactory()
    token = login(user)["access_token"]
    for i in range(2):
        response = api_client.patch(
            "/users/me", {"avatar": upload(image_bytes("PNG"), "a.png")}, format="multipart", REMOTE_ADDR=f"10.0.0.{i}",
            **bearer(token),
        )  # fmt: skip
        assert_ok(response)
    response = api_client.patch(
        "/users/me", {"avatar": upload(image_bytes("PNG"), "a.png")}, format="multipart", REMOTE_ADDR="10.0.0.9",
        **bearer(token),
    )  # fmt: skip
    assert_error(response, 429, "RATE_LIMITED")
    assert_ok(api_client.patch("/users/me", {"name": "No Picture"}, format="json", **bearer(token)))


@pytest.mark.django_db
def test_an_unusable_upload_folder_is_a_clean_503_and_creates_nothing(api_client, media):
    (media / "avatars").write_text("not a folder")  # saving under it fails as a full or read-only disk does
    response = register(api_client, upload(image_bytes("PNG"), "a.png"), username="noroom")
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert not User.objects.filter(username="noroom").exists()


@pytest.mark.gunicorn
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("make", "filename", "content_type"),
    [
        (hostile_images.jpeg_scan_bomb, "a.jpg", "image/jpeg"),
        (hostile_images.jpeg_segment_flood, "a.jpg", "image/jpeg"),  # empty APP5 segments
        (hostile_images.png_chunk_flood, "a.png", "image/png"),  # ancillary chunks
        (hostile_images.png_idat_fragments, "a.png", "image/png"),
    ],
)
def test_two_concurrent_hostile_uploads_leave_both_workers_serving(make, filename, content_type):
    """The uploads that held or killed workers: two at once on real gunicorn workers, with /health
    answering within a second throughout."""
    import threading
    import time
    import uuid

    from common.tests.utils import gunicorn, http, run_concurrently

    hostile = make()

    def upload(i: int) -> int:
        boundary = uuid.uuid4().hex
        fields = {"username": f"bomb{i}", "name": "Bomb", "email": f"bomb{i}@example.com", "password": "a-long-pass"}
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()
        ]
        head = "".join(parts) + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="avatar"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        body = head.encode() + hostile + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return http("POST", f"{url}/auth/register", body, headers)[0]

    with gunicorn(workers=2) as url:
        done, slowest, statuses = threading.Event(), [0.0], set()

        def watch() -> None:
            while not done.is_set():
                started = time.monotonic()
                statuses.add(http("GET", f"{url}/health")[0])
                slowest[0] = max(slowest[0], time.monotonic() - started)
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            assert run_concurrently(upload, 2) == [400, 400]
        finally:
            done.set()
            watcher.join()
        assert statuses == {200} and slowest[0] < 1, f"/health: {statuses}, {slowest[0]:.2f} s"
    assert not User.objects.filter(username__startswith="bomb").exists()
