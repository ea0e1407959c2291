from django.test import RequestFactory

from common.net import client_ip


def request(remote="10.0.0.1", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_default_ignores_forwarded_for(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request(forwarded="1.2.3.4")) == "10.0.0.1"


def test_nth_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request(forwarded="6.6.6.6, 1.2.3.4")) == "1.2.3.4"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request(forwarded="6.6.6.6, 1.2.3.4, 10.9.9.9")) == "1.2.3.4"


def test_too_few_entries_or_garbage_fall_back_to_the_socket(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request(forwarded="1.2.3.4")) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request(forwarded="not-an-ip")) == "10.0.0.1"
    assert client_ip(request(forwarded="2001:db8::1")) == "2001:db8::1"


def test_missing_remote_addr_is_a_placeholder(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request(remote="")) == "0.0.0.0"
