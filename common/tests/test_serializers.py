"""OutputSerializer: shallow field copies, yet no state shared between instances."""

from datetime import UTC, datetime

from rest_framework import serializers

from common.serializers import OutputSerializer


class Shape(OutputSerializer):
    name = serializers.CharField()
    at = serializers.DateTimeField()
    greeting = serializers.SerializerMethodField()
    renamed = serializers.CharField(source="name")

    def get_greeting(self, item: dict) -> str:
        return f"{self.context['word']} {item['name']}"


def test_each_instance_binds_its_own_fields_to_its_own_context():
    first, second = Shape(context={"word": "hello"}), Shape(context={"word": "bye"})
    item = {"name": "ada", "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}
    assert first.to_representation(item) == {
        "name": "ada",
        "at": "2026-01-02T03:04:05Z",
        "greeting": "hello ada",
        "renamed": "ada",
    }
    assert second.to_representation(item)["greeting"] == "bye ada"
    assert first.fields["greeting"].parent is first and second.fields["greeting"].parent is second
    assert first.fields["name"] is not Shape._declared_fields["name"]
    assert Shape._declared_fields["greeting"].parent is None  # the declared fields stay unbound


def test_many_and_nested_shapes():
    class Outer(OutputSerializer):
        inner = Shape(many=True)

    items = [{"name": n, "at": datetime(2026, 1, 1, tzinfo=UTC)} for n in ("a", "b")]
    data = Outer({"inner": items}, context={"word": "hi"}).data
    assert [i["greeting"] for i in data["inner"]] == ["hi a", "hi b"]
