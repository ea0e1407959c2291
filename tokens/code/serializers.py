"""Shapes of the sign-in-by-code endpoints."""

from rest_framework import serializers

from accounts.serializers import AddressField


class CodeRequestSerializer(serializers.Serializer):
    email = AddressField()


class CodeVerifySerializer(serializers.Serializer):
    email = AddressField()
    code = serializers.CharField(max_length=32, help_text="The 6 digits from the mail.")
