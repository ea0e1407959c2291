"""Shapes of the MFA endpoints: the login's second step, TOTP enrolment, recovery codes."""

from rest_framework import serializers

from accounts.serializers import PasswordField
from common.serializers import OutputSerializer


class MfaVerifySerializer(serializers.Serializer):
    mfa_token = serializers.CharField(max_length=512)
    code = serializers.CharField(max_length=64, help_text="A current TOTP code or an unused recovery code.")


class MfaCodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class CurrentPasswordSerializer(serializers.Serializer):
    current_password = PasswordField()


class MfaStatusSerializer(OutputSerializer):
    totp_enabled = serializers.BooleanField()
    recovery_codes_remaining = serializers.IntegerField()


class TotpEnrolmentSerializer(OutputSerializer):
    secret = serializers.CharField(help_text="Base32; shown only now.")
    otpauth_url = serializers.CharField()
    qr_svg = serializers.CharField(help_text="The otpauth URL as a QR code (SVG).")


class RecoveryCodesSerializer(OutputSerializer):
    recovery_codes = serializers.ListField(child=serializers.CharField(), help_text="Shown only now; each works once.")
