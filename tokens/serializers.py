from rest_framework import serializers


class PersonalAccessTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)


class NewPersonalAccessTokenSerializer(PersonalAccessTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret; shown only in this response.")


class CreatePersonalAccessTokenSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=100)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=365, required=False, allow_null=True)
