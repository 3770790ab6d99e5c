"""One error shape for the whole API: {"error": {"code", "message", "message_en", "fields"}}.

`message` is Japanese, `message_en` English; `code` is stable and machine-readable. Services raise
`ApiError` (or a subclass of Django's ValidationError); the DRF exception handler and the Django
404/500 handlers below all render through `error_payload`.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from rest_framework import exceptions, status
from rest_framework.response import Response

# code: (ja, en). Codes are part of the API contract: add, never rename.
MESSAGES: dict[str, tuple[str, str]] = {
    "validation_error": ("入力内容に誤りがあります。", "Some fields are invalid."),
    "malformed_json": ("リクエスト本文のJSONを解析できません。", "The request body is not valid JSON."),
    "unsupported_media_type": ("このContent-Typeには対応していません。application/json を使ってください。",
                               "Unsupported Content-Type; send application/json."),
    "not_authenticated": ("認証が必要です。Authorization: Bearer <token> を付けてください。",
                          "Authentication required: send Authorization: Bearer <token>."),
    "invalid_token": ("トークンが無効か、期限切れか、この自治体のものではありません。",
                      "The token is invalid, expired, revoked, or belongs to another municipality."),
    "invalid_credentials": ("ユーザー名またはパスワードが違います。", "Wrong username or password."),
    "account_locked": ("ログインの失敗が続いたため、一時的にロックされています。しばらくしてから再度お試しください。",
                       "Too many failed sign-ins; the account is locked for a while."),
    "permission_denied": ("この操作を行う権限がありません。", "You do not have permission to do this."),
    "not_found": ("見つかりません。", "Not found."),
    "unknown_host": ("このホスト名に対応する自治体はありません。", "No municipality is served on this host name."),
    "invalid_host": ("ホスト名が不正です。", "The Host header is not allowed."),
    "municipality_suspended": ("この自治体のサービスは現在停止されています。",
                               "This municipality's service is suspended."),
    "method_not_allowed": ("このメソッドは使えません。", "This HTTP method is not allowed here."),
    "not_acceptable": ("要求された形式では応答できません。", "Cannot respond in the requested format."),
    "rate_limited": ("リクエストが多すぎます。しばらくしてから再度お試しください。",
                     "Too many requests; please retry later."),
    "server_error": ("サーバーでエラーが発生しました。時間をおいて再度お試しください。",
                     "Internal server error; please retry later."),
    "conflict": ("既に存在します。", "It already exists."),
    "service_unavailable": ("サービスが一時的に利用できません。", "The service is temporarily unavailable."),
    "bad_request": ("不正なリクエストです。", "Bad request."),
    # Community (地域共創)
    "not_district_member": ("この校区のメンバーではありません。プロフィールで自分の校区を設定してください。",
                            "You are not a member of this district; set your district in your profile."),
    "verification_required": ("書き込むにはデジタル市民証による本人確認が必要です。",
                              "Verify your identity with the digital citizen ID before writing here."),
    "suspended_in_district": ("この校区での投稿・コメントは停止されています。",
                              "You are suspended from posting and commenting in this district."),
    "invalid_image": ("画像として読み込めません。JPEG・PNG・HEICの画像を送ってください。",
                      "The file is not a JPEG, PNG or HEIC image we can read."),
    "image_too_large": ("画像ファイルが大きすぎます。", "The image file is too large."),
    "image_too_many_pixels": ("画像の画素数が多すぎます。", "The image has too many pixels."),
    "location_out_of_bounds": ("位置が市の範囲外です。", "The location is outside the municipality."),
    "map_bounds_not_configured": ("地図の範囲が設定されていません。", "The municipality has not set its map bounds."),
    "invalid_bbox": ("地図の範囲（bbox）が不正です。", "The bbox is malformed."),
    "bbox_too_large": ("地図の範囲（bbox）が広すぎます。拡大してください。", "The bbox is too large; zoom in."),
    "rsvp_closed": ("回答の締切を過ぎています。", "The RSVP deadline has passed."),
    "capacity_below_joined": ("定員を参加確定の人数より少なくできません。",
                              "The capacity cannot be below the number of people going."),
    "already_thanked": ("すでに「ありがとう」を送っています。", "You have already thanked this."),
    "cannot_thank_self": ("自分の投稿には「ありがとう」を送れません。", "You cannot thank yourself."),
    "thanks_limit_reached": ("今日送れる「ありがとう」の上限に達しました。", "You have reached today's thank-you limit."),
    "already_reported": ("この投稿はすでに通報済みです。", "You have already reported this post."),
    "already_suspended": ("この住民はこの校区ですでに停止中です。", "This member is already suspended in this district."),
    "invalid_device_token": ("端末の登録トークンが不正です。", "The device registration token is not valid."),
    "empty_audience": ("配信対象に該当する住民がいません。", "No resident matches this audience."),
    "miniapp_disabled": ("このミニアプリは現在利用できません。", "This mini-app is disabled."),
    "consent_required": ("このミニアプリに情報を提供するには、あなたの同意が必要です。",
                         "The resident's consent is needed before this mini-app receives their information."),
    "usage_batch_too_large": ("一度に送信できる利用イベントは500件までです。",
                              "A usage batch holds at most 500 events."),
    # garbage calendar (miniapps.garbage)
    "pickup_day_full": ("この収集日は予約がいっぱいです。別の日を選んでください。",
                        "This pickup day is fully booked; please choose another day."),
    "pickup_day_past": ("この収集日は過ぎています。", "This pickup day is in the past."),
    "booking_closed": ("この収集日の受付は締め切りました（収集日の2開庁日前まで）。",
                       "Bookings for this day are closed (they close two working days before)."),
    "cancellation_closed": ("取消の期限（収集日の2開庁日前）を過ぎています。市役所へお電話ください。",
                            "The cancellation deadline (two working days before) has passed; please call the city office."),
    "booking_already_cancelled": ("この予約は既に取り消されています。", "This booking is already cancelled."),
    # 学校出欠連絡 (miniapps.attendance)
    "attendance_after_cutoff": ("本日分の連絡の受付は締め切りました。学校へお電話ください。",
                                "Same-day reports are closed for today; please phone the school."),
    "attendance_withdraw_closed": ("締切時刻を過ぎたため取り消せません。学校へお電話ください。",
                                   "Past the cut-off a report can no longer be withdrawn; please phone the school."),
    "attendance_report_overlaps": ("この日には既に同じお子さまの連絡があります。", "This child already has a report for these days."),
    "attendance_report_withdrawn": ("この連絡は取り消されています。", "This report has been withdrawn."),
    "attendance_not_enrolled": ("その年度の在籍情報がありません。学校へお問い合わせください。",
                                "The child is not enrolled for that school year; please contact the school."),
    "attendance_link_code_invalid": ("連携コードが正しくありません。", "The link code is not valid."),
    "attendance_link_code_expired": ("連携コードの有効期限が切れています。学校に新しいコードを依頼してください。",
                                     "The link code has expired; ask the school for a new one."),
    "attendance_link_code_used": ("この連携コードは使用済みです。学校に新しいコードを依頼してください。",
                                  "The link code has already been used; ask the school for a new one."),
    "attendance_already_linked": ("このお子さまとは既に連携しています。", "You are already linked to this child."),
    "attendance_roster_invalid": ("名簿ファイルに誤りがあるため、何も取り込んでいません。",
                                  "The roster file has errors; nothing was imported."),
    # Digital citizen ID: enrolment refusals
    "nonce_invalid": ("チャレンジが無効です。もう一度最初からやり直してください。",
                      "The challenge is invalid, expired or already used; start again."),
    "signature_invalid": ("マイナンバーカードの署名を確認できませんでした。", "The card's signature does not verify."),
    "certificate_untrusted": ("この電子証明書は信頼できません（署名用電子証明書ではないか、発行元を確認できません）。",
                              "The certificate is not a trusted JPKI signature certificate."),
    "certificate_expired": ("電子証明書の有効期限が切れています。市区町村の窓口で更新してください。",
                            "The certificate has expired (or is not yet valid)."),
    "certificate_revoked": ("この電子証明書は失効しています。", "The certificate has been revoked."),
    "certificate_malformed": ("電子証明書を読み取れません。", "The certificate cannot be read."),
    "not_resident": ("住所がこの自治体ではないため、市民証を発行できません。",
                     "The address is not in this municipality, so no citizen ID can be issued."),
    "revocation_status_unavailable": ("電子証明書の失効情報を確認できないため、現在本人確認できません。",
                                      "Revocation status cannot be checked right now; please retry later."),
    "citizen_id_conflict": ("このアカウントには別の方の市民証があります。先にその市民証を失効させてください。",
                            "This account already holds another person's citizen ID; revoke it first."),
    # Digital citizen ID: QR and scans
    "citizen_id_suspended": ("市民証の再確認が必要です。マイナンバーカードで本人確認をやり直してください。",
                             "The citizen ID needs re-verification with the My Number Card."),
    "citizen_id_revoked": ("この市民証は失効しています。", "This citizen ID has been revoked."),
    "qr_invalid": ("市民証のQRコードとして読み取れません。", "Not a valid citizen-ID QR code."),
    "qr_expired": ("QRコードの有効期限が切れています。", "The QR code has expired."),
    "qr_wrong_municipality": ("他の自治体の市民証です。", "This citizen ID belongs to another municipality."),
    "qr_replayed": ("このQRコードは読み取り済みです。", "This QR code was already scanned."),
    "qr_revoked": ("このカードQRは失効しています。", "This printed card QR has been revoked."),
    "csrf_failed": ("ページの有効期限が切れました。ページを再読み込みしてから、もう一度お試しください。",
                    "This page has expired; reload it and try again."),
    "invalid_totp": ("確認コードが違うか、期限切れです。", "The verification code is wrong or has expired."),
    "last_admin": ("最後の自治体管理者の権限は外せません。先に別の職員を管理者にしてください。",
                   "The last municipality admin cannot lose that role; make someone else an admin first."),
    "invalid_invite_link": ("このリンクは無効か、期限切れか、既に使われています。管理者に再送を依頼してください。",
                            "This link is invalid, expired or already used; ask an admin to send a new one."),
    # Mini-apps
    "disaster_closed": ("この災害は既に終了しています。", "This disaster is already closed."),
    "shelter_not_open": ("この避難所は開設されていません。", "This shelter is not open."),
    "shelter_open_for_other_disaster": ("この避難所は別の災害で開設中です。", "This shelter is open for another disaster."),
    "idempotency_key_required": ("Idempotency-Key ヘッダー（200文字以内）を付けてください。",
                                 "Send an Idempotency-Key header (at most 200 characters)."),
    "idempotency_key_reused": ("同じIdempotency-Keyで異なる内容が送られました。",
                               "This Idempotency-Key was already used for a different request."),
    "idempotency_conflict": ("同じリクエストを処理中です。少し待ってから再送してください。",
                             "The same request is being processed; retry shortly."),
    "invalid_cap": ("CAPメッセージに誤りがあります。", "The CAP message is invalid."),
    "unknown_cap_reference": ("参照先のアラートが見つかりません。", "The referenced alert is unknown."),
    # garbage calendar (miniapps.garbage)
    # 学校出欠連絡 (miniapps.attendance)
    # Data platform (analytics)
    "dataset_unavailable": ("このデータセットの元データはこの環境にありません。",
                            "This dataset's source is not installed here."),
    "export_too_many": ("実行中の出力が多すぎます。終わってから次の出力を始めてください。",
                        "You have too many exports queued or running; wait for one to finish."),
    "export_not_ready": ("ファイルはまだできていません（作成中か、失敗しました）。",
                         "The file is not ready (still running, or the export failed)."),
    "export_expired": ("ダウンロードの期限が切れました。もう一度出力してください。",
                       "The download has expired; run the export again."),
}


class ApiError(Exception):
    """A 4xx a service or view raises on purpose, with a stable code and bilingual message."""

    def __init__(
        self,
        code: str,
        *,
        status_code: int = 400,
        message: str | None = None,
        message_en: str | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        default_ja, default_en = MESSAGES.get(code, (code, code))
        self.code = code
        self.status_code = status_code
        self.message = message or default_ja
        self.message_en = message_en or default_en
        self.fields = fields or {}
        super().__init__(f"{code}: {self.message_en}")


def error_payload(code: str, *, message: str | None = None, message_en: str | None = None,
                  fields: dict[str, Any] | None = None) -> dict[str, Any]:
    default_ja, default_en = MESSAGES.get(code, (code, code))
    return {
        "error": {
            "code": code,
            "message": message or default_ja,
            "message_en": message_en or default_en,
            "fields": fields or {},
        }
    }


def error_response(code: str, status_code: int, **kwargs: Any) -> JsonResponse:
    response = JsonResponse(error_payload(code, **kwargs), status=status_code,
                            json_dumps_params={"ensure_ascii": False})
    return response


def _flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors for nested serializers and lists; clients get dotted field paths."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and prefix == "":
                name = "non_field_errors"
            fields.update(_flatten_fields(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                fields.update(_flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return {key: value for key, value in fields.items() if value}


_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ParseError, "malformed_json"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "invalid_token"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.Throttled, "rate_limited"),
]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApiError):
        return Response(
            error_payload(exc.code, message=exc.message, message_en=exc.message_en, fields=exc.fields),
            status=exc.status_code,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    # Imported here: rest_framework.views imports the authentication classes, which import services
    # that raise ApiError from this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected exception: Django's handler500 renders the JSON 500

    if isinstance(exc, exceptions.ValidationError):
        response.data = error_payload("validation_error", fields=_flatten_fields(exc.detail))
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response

    code = next((name for cls, name in _DRF_CODES if isinstance(exc, cls)), None)
    detail_code = getattr(getattr(exc, "detail", None), "code", None)
    if detail_code in MESSAGES and detail_code not in {"error", "invalid"}:
        code = detail_code  # a view raised e.g. AuthenticationFailed(code="account_locked")
    if code is None:
        code = "server_error" if response.status_code >= 500 else "bad_request"
    fields: dict[str, Any] = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        fields = {"retry_after_seconds": [str(int(exc.wait))]}
    response.data = error_payload(code, fields=fields)
    return response


# Django-level handlers, for everything DRF does not see (unknown URLs, uncaught errors). Console
# and platform-console paths (settings.CONSOLE_PATH_PREFIXES) get an HTML page in the same words.
def _wants_html(request) -> bool:
    prefixes = tuple(getattr(settings, "CONSOLE_PATH_PREFIXES", ()))
    return bool(prefixes) and request is not None and request.path.startswith(prefixes)


def html_error_response(request, code: str, status_code: int) -> HttpResponse:
    message, message_en = MESSAGES.get(code, (code, code))
    try:
        body = render_to_string("console/error.html", {"code": code, "status": status_code, "message": message,
                                                       "message_en": message_en}, request=request)
    except Exception:  # an error page must never fail: fall back to plain text
        body = f"{status_code} {message} / {message_en}"
        return HttpResponse(body, status=status_code, content_type="text/plain; charset=utf-8")
    return HttpResponse(body, status=status_code)


def handler404(request, exception=None):
    if _wants_html(request):
        return html_error_response(request, "not_found", 404)
    return error_response("not_found", 404)


def handler500(request):
    if _wants_html(request):
        return html_error_response(request, "server_error", 500)
    return error_response("server_error", 500)


def handler403(request, exception=None):
    if _wants_html(request):
        return html_error_response(request, "permission_denied", 403)
    return error_response("permission_denied", 403)


def handler400(request, exception=None):
    if _wants_html(request):
        return html_error_response(request, "bad_request", 400)
    return error_response("validation_error", 400, message="不正なリクエストです。", message_en="Bad request.")


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: the console's forms lost their token (expired page, another tab signed out)."""
    if _wants_html(request):
        return html_error_response(request, "csrf_failed", 403)
    return error_response("csrf_failed", 403)
