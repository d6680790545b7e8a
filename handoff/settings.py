"""Bridge configuration, from the environment (README "Configuration")."""

from __future__ import annotations

import os
import json
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

from handoff.canned import DEFAULT_PATH
from handoff.sla_rules import parse_targets
from handoff.closing import MAX_DISPOSITION, MAX_DISPOSITIONS
from handoff.guard import own_origins
from handoff.mail_settings import check_mail_settings
from handoff.routing import BusinessHours
from handoff.trust import parse_networks

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6380/0"
    # Redis connections one process may hold; a burst beyond them waits up to
    # redis_wait_seconds for a free one instead of failing (redis-py's own default is 100).
    redis_connections: int = 500
    redis_wait_seconds: float = 5.0
    rasa_url: str = "http://127.0.0.1:5005"
    host: str = "127.0.0.1"
    port: int = 8080
    # Signs agent tokens; every bridge process behind one load balancer needs the same.
    secret: str = ""
    key_prefix: str = "hb"
    agent_token_seconds: int = 8 * 3600
    rasa_timeout_seconds: float = 10.0
    max_message_bytes: int = 8192
    max_text_characters: int = 2000
    messages_per_second: float = 5.0
    message_burst: int = 10
    finished_ttl_seconds: int = 7 * 24 * 3600
    # Open sockets per client address: anonymous (customers) and logged-in staff apart.
    max_connections_per_ip: int = 20
    max_staff_connections_per_ip: int = 50
    # Per-address caps count an IPv6 client by its network of this prefix (IPv4: per address).
    ipv6_prefix: int = 64
    # A customer socket that has not said hello by then is closed.
    hello_timeout_seconds: float = 10.0
    # The caps of handoff.limits (docs/security.md "Limits"), counted in Redis across processes.
    max_connections: int = 20_000
    max_new_conversations_per_ip: int = 30  # per 10 minutes
    max_new_conversations: int = 20_000  # per 10 minutes
    max_queue_entries_per_ip: int = 5  # per 10 minutes
    max_queue_entries: int = 2_000  # per 10 minutes
    # Callback and message requests left from one address (every chat may leave one), per 10 minutes.
    max_requests_per_ip: int = 5
    max_queue_length: int = 500
    max_transcript_messages: int = 1_000
    # A conversation nobody has used (no message, no request for a person) is kept this long.
    idle_conversation_seconds: int = 300
    # A queued customer with no open connection for this long leaves the queue.
    customer_gone_seconds: int = 300
    # Proxies (addresses or CIDR blocks) whose Forwarded / X-Forwarded-For name the real client.
    trusted_proxies: str = ""
    # A warning is logged when Redis uses more than this share of its maxmemory.
    redis_memory_warning: float = 0.8
    # FAQ topic (or handoff reason) -> skill group; "*" is the default group.
    skill_groups: Dict[str, str] = field(default_factory=dict)
    # Response-time targets per skill group (handoff.sla): "general=first:120,reply:60;cards=first:60,reply:45";
    # groups not named (and "default=…" to change them): first response 120 s, reply 60 s.
    sla: str = ""
    # e.g. "mon-fri 08:00-20:00; sat 09:00-13:00"; empty: always open.
    business_hours: str = ""
    timezone: str = "Europe/London"
    # How long an agent may be disconnected before their chats go back to the queue.
    agent_grace_seconds: int = 60
    # A queued customer's status is worked out again after this long without a change of the queue.
    status_refresh_seconds: float = 30.0
    # Automatic assignment (handoff.assignment): an offer not accepted within this long goes to the next
    # agent; every process runs an assignment round at least this often (timeouts, a process that died).
    assign_accept_seconds: float = 30.0
    assign_round_seconds: float = 1.0
    # A full garbage collection runs once at least this many sockets have ended since the last one,
    # and at least as many as are open (handoff.collector).
    collect_after_sockets: int = 1000
    # Browser origins allowed to open websockets and log in; the bridge's own pages always are.
    allowed_origins: Tuple[str, ...] = ()
    # Host names clients may address the bridge by; any other Host header is refused (DNS rebinding).
    allowed_hosts: Tuple[str, ...] = ("127.0.0.1", "localhost")
    # /metrics and /ready are served here, on loopback only (docs/security.md).
    admin_port: int = 8081
    # Failed logins: free failures per account and per client address; each further failure holds
    # the next attempt back 1, 2, 4 ... s up to login_longest_hold_seconds; all are forgotten
    # login_window_seconds after the last failure.
    login_free_per_account: int = 5
    login_free_per_address: int = 20
    login_longest_hold_seconds: int = 900
    login_window_seconds: int = 3600
    # YAML list of {shortcut, title, text} for the agent console (handoff.canned).
    canned_responses: str = str(DEFAULT_PATH)
    # What an agent closing a conversation says became of it (handoff.closing), in the console's order.
    dispositions: Tuple[str, ...] = ("resolved", "not resolved", "follow-up needed", "spam")
    # Attachments (handoff.attachments): the largest file, and uploads per 10 minutes per conversation (a
    # customer's) or agent, and per client address.
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_uploads_per_sender: int = 20
    max_uploads_per_ip: int = 60
    # The bytes of files kept in Redis: per conversation (for as long as it is kept) and, in all, per UTC day
    # (files live as long as their conversation, HANDOFF_RETENTION_SECONDS: size Redis for days x this).
    max_file_bytes_per_conversation: int = 25 * 1024 * 1024
    max_file_bytes_per_day: int = 40 * 1024 * 1024
    # A customer's client address (an IPv6 /64, as the other caps) per UTC day: one visitor cannot spend
    # the day's budget for everyone. Staff uploads (logged in, accountable) count only against the others.
    max_file_bytes_per_address_per_day: int = 12 * 1024 * 1024
    # Rasa servers pull the deployed model from /api/models/current with this token; empty: off.
    model_server_token: str = ""
    # Where the teaching loop (teaching/) keeps its state in the same Redis.
    teach_key_prefix: str = "teach"
    # Transcripts by email (handoff.mail; README "Transcripts by email"): the SMTP server, empty host: no mail.
    # smtp_security: "starttls" (port 587), "tls" (port 465) or "none" (only to a server on loopback).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    mail_from: str = ""
    # The business's name as its customers know it (HANDOFF_BUSINESS_NAME): the mail's subject ("Your chat with
    # Northwind Bank") and its From name; empty: the domain of mail_from's address.
    business_name: str = ""
    # Transcripts per UTC day per client address and per recipient; a failed delivery is tried this many times,
    # mail_retry_seconds apart.
    mail_per_address_per_day: int = 5
    mail_per_recipient_per_day: int = 3
    # Transcripts to addresses customers typed (not a signed-in customer's own), all told per UTC day: however
    # many client addresses and recipients an abuser has, the service sends at most this many to strangers.
    mail_unverified_per_day: int = 200
    mail_attempts: int = 5
    mail_retry_seconds: float = 60.0
    # Secrets host sites sign their customers' identities with (handoff.identity, docs/identity.md): the
    # current one first, an older one after it while sites move over; none: every customer is anonymous.
    identity_secrets: Tuple[str, ...] = ()
    # A signed identity is believed for this long after it was issued.
    identity_max_age_seconds: int = 24 * 3600
    # The archive's outbox ({p}:outbox, archive/): at most this many entries not yet trimmed (beyond it the
    # oldest go unarchived); 0: no outbox. On by default when an archive is configured (DATABASE_URL).
    outbox_max_length: int = 0
    # The archive (PostgreSQL) the bridge reads: search and older contact history (handoff.archive_reader),
    # reports (handoff.reports: each under report_timeout_ms, at most report_max_days days); "": none.
    database_url: str = ""
    archive_connections: int = 4  # per process
    archive_statement_timeout_ms: int = 3000
    report_timeout_ms: int = 30_000
    # A forget's archive part (handoff.forget) waits for an archiver's batch, then deletes: at most this long.
    forget_timeout_ms: int = 60_000
    # Where Rasa's trackers (endpoints.yml tracker_store key_prefix) and the suggestion index keep their keys,
    # for the console's forget.
    tracker_key_prefix: str = "support"
    suggestions_key_prefix: str = "support"
    report_max_days: int = 366
    # Searches per staff socket: this many per second on average, bursts of search_burst.
    search_per_second: float = 0.5
    search_burst: int = 5

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str, default: object) -> str:
            return env.get(name, str(default))

        settings = cls(
            redis_url=get("REDIS_URL", defaults.redis_url),
            redis_connections=int(get("HANDOFF_REDIS_CONNECTIONS", defaults.redis_connections)),
            redis_wait_seconds=float(get("HANDOFF_REDIS_WAIT", defaults.redis_wait_seconds)),
            rasa_url=get("RASA_URL", defaults.rasa_url).rstrip("/"),
            host=get("HANDOFF_HOST", defaults.host),
            port=int(get("HANDOFF_PORT", defaults.port)),
            secret=get("HANDOFF_SECRET", ""),
            key_prefix=get("HANDOFF_KEY_PREFIX", defaults.key_prefix),
            agent_token_seconds=int(get("HANDOFF_AGENT_TOKEN_SECONDS", defaults.agent_token_seconds)),
            rasa_timeout_seconds=float(get("HANDOFF_RASA_TIMEOUT", defaults.rasa_timeout_seconds)),
            max_message_bytes=int(get("HANDOFF_MAX_MESSAGE_BYTES", defaults.max_message_bytes)),
            max_text_characters=int(get("HANDOFF_MAX_TEXT", defaults.max_text_characters)),
            messages_per_second=float(get("HANDOFF_MESSAGES_PER_SECOND", defaults.messages_per_second)),
            message_burst=int(get("HANDOFF_MESSAGE_BURST", defaults.message_burst)),
            finished_ttl_seconds=int(get("HANDOFF_RETENTION_SECONDS", defaults.finished_ttl_seconds)),
            max_connections_per_ip=int(get("HANDOFF_MAX_CONNECTIONS_PER_IP", defaults.max_connections_per_ip)),
            max_staff_connections_per_ip=int(get("HANDOFF_MAX_STAFF_CONNECTIONS_PER_IP",
                                                 defaults.max_staff_connections_per_ip)),
            ipv6_prefix=int(get("HANDOFF_IPV6_PREFIX", defaults.ipv6_prefix)),
            hello_timeout_seconds=float(get("HANDOFF_HELLO_TIMEOUT", defaults.hello_timeout_seconds)),
            max_connections=int(get("HANDOFF_MAX_CONNECTIONS", defaults.max_connections)),
            max_new_conversations_per_ip=int(get("HANDOFF_MAX_NEW_CONVERSATIONS_PER_IP",
                                                 defaults.max_new_conversations_per_ip)),
            max_new_conversations=int(get("HANDOFF_MAX_NEW_CONVERSATIONS", defaults.max_new_conversations)),
            max_queue_entries_per_ip=int(get("HANDOFF_MAX_QUEUE_ENTRIES_PER_IP", defaults.max_queue_entries_per_ip)),
            max_queue_entries=int(get("HANDOFF_MAX_QUEUE_ENTRIES", defaults.max_queue_entries)),
            max_requests_per_ip=int(get("HANDOFF_MAX_REQUESTS_PER_IP", defaults.max_requests_per_ip)),
            max_queue_length=int(get("HANDOFF_MAX_QUEUE_LENGTH", defaults.max_queue_length)),
            max_transcript_messages=int(get("HANDOFF_MAX_TRANSCRIPT_MESSAGES", defaults.max_transcript_messages)),
            idle_conversation_seconds=int(get("HANDOFF_IDLE_CONVERSATION_SECONDS", defaults.idle_conversation_seconds)),
            customer_gone_seconds=int(get("HANDOFF_CUSTOMER_GONE_SECONDS", defaults.customer_gone_seconds)),
            trusted_proxies=get("HANDOFF_TRUSTED_PROXIES", ""),
            database_url=get("DATABASE_URL", ""),
            report_timeout_ms=int(get("HANDOFF_REPORT_TIMEOUT_MS", defaults.report_timeout_ms)),
            report_max_days=int(get("HANDOFF_REPORT_MAX_DAYS", defaults.report_max_days)),
            forget_timeout_ms=int(get("HANDOFF_FORGET_TIMEOUT_MS", defaults.forget_timeout_ms)),
            tracker_key_prefix=get("TRACKER_KEY_PREFIX", defaults.tracker_key_prefix),
            suggestions_key_prefix=get("SUGGESTIONS_KEY_PREFIX", defaults.suggestions_key_prefix),
            outbox_max_length=int(get("HANDOFF_OUTBOX_MAX_LENGTH", 1_000_000 if env.get("DATABASE_URL") else 0)),
            archive_connections=int(get("HANDOFF_ARCHIVE_CONNECTIONS", defaults.archive_connections)),
            archive_statement_timeout_ms=int(get("HANDOFF_ARCHIVE_TIMEOUT_MS", defaults.archive_statement_timeout_ms)),
            search_per_second=float(get("HANDOFF_SEARCH_PER_SECOND", defaults.search_per_second)),
            search_burst=int(get("HANDOFF_SEARCH_BURST", defaults.search_burst)),
            redis_memory_warning=float(get("HANDOFF_REDIS_MEMORY_WARNING", defaults.redis_memory_warning)),
            allowed_origins=tuple(
                origin.strip() for origin in get("HANDOFF_ALLOWED_ORIGINS", "").split(",") if origin.strip()
            ),
            allowed_hosts=tuple(
                host.strip().lower()
                for host in get("HANDOFF_ALLOWED_HOSTS", ",".join(defaults.allowed_hosts)).split(",") if host.strip()
            ),
            admin_port=int(get("HANDOFF_ADMIN_PORT", defaults.admin_port)),
            login_free_per_account=int(get("HANDOFF_LOGIN_FREE_PER_ACCOUNT", defaults.login_free_per_account)),
            login_free_per_address=int(get("HANDOFF_LOGIN_FREE_PER_ADDRESS", defaults.login_free_per_address)),
            login_longest_hold_seconds=int(get("HANDOFF_LOGIN_LONGEST_HOLD", defaults.login_longest_hold_seconds)),
            login_window_seconds=int(get("HANDOFF_LOGIN_WINDOW", defaults.login_window_seconds)),
            skill_groups=json.loads(get("HANDOFF_SKILL_GROUPS", "{}")),
            business_hours=get("HANDOFF_HOURS", ""),
            sla=get("HANDOFF_SLA", ""),
            timezone=get("HANDOFF_TIMEZONE", defaults.timezone),
            agent_grace_seconds=int(get("HANDOFF_AGENT_GRACE_SECONDS", defaults.agent_grace_seconds)),
            status_refresh_seconds=float(get("HANDOFF_STATUS_REFRESH_SECONDS", defaults.status_refresh_seconds)),
            assign_accept_seconds=float(get("HANDOFF_ASSIGN_ACCEPT_SECONDS", defaults.assign_accept_seconds)),
            assign_round_seconds=float(get("HANDOFF_ASSIGN_ROUND_SECONDS", defaults.assign_round_seconds)),
            collect_after_sockets=int(get("HANDOFF_COLLECT_AFTER_SOCKETS", defaults.collect_after_sockets)),
            canned_responses=get("HANDOFF_CANNED_RESPONSES", defaults.canned_responses),
            dispositions=tuple(
                " ".join(name.split()) for name in get("HANDOFF_DISPOSITIONS", ",".join(defaults.dispositions)).split(",")
                if name.strip()
            ),
            max_attachment_bytes=int(get("HANDOFF_MAX_ATTACHMENT_BYTES", defaults.max_attachment_bytes)),
            max_uploads_per_sender=int(get("HANDOFF_MAX_UPLOADS_PER_SENDER", defaults.max_uploads_per_sender)),
            max_uploads_per_ip=int(get("HANDOFF_MAX_UPLOADS_PER_IP", defaults.max_uploads_per_ip)),
            max_file_bytes_per_conversation=int(get("HANDOFF_MAX_FILE_BYTES_PER_CONVERSATION",
                                                    defaults.max_file_bytes_per_conversation)),
            max_file_bytes_per_day=int(get("HANDOFF_MAX_FILE_BYTES_PER_DAY", defaults.max_file_bytes_per_day)),
            max_file_bytes_per_address_per_day=int(get("HANDOFF_MAX_FILE_BYTES_PER_ADDRESS_PER_DAY",
                                                       defaults.max_file_bytes_per_address_per_day)),
            model_server_token=get("MODEL_SERVER_TOKEN", ""),
            teach_key_prefix=get("TEACH_KEY_PREFIX", defaults.teach_key_prefix),
            smtp_host=get("HANDOFF_SMTP_HOST", "").strip(),
            smtp_port=int(get("HANDOFF_SMTP_PORT", defaults.smtp_port)),
            smtp_security=get("HANDOFF_SMTP_SECURITY", defaults.smtp_security).strip().lower(),
            smtp_user=get("HANDOFF_SMTP_USER", ""),
            smtp_password=get("HANDOFF_SMTP_PASSWORD", ""),
            mail_from=get("HANDOFF_MAIL_FROM", "").strip(),
            business_name=get("HANDOFF_BUSINESS_NAME", "").strip(),
            mail_per_address_per_day=int(get("HANDOFF_MAIL_PER_ADDRESS_PER_DAY", defaults.mail_per_address_per_day)),
            mail_per_recipient_per_day=int(get("HANDOFF_MAIL_PER_RECIPIENT_PER_DAY",
                                               defaults.mail_per_recipient_per_day)),
            mail_unverified_per_day=int(get("HANDOFF_MAIL_UNVERIFIED_PER_DAY", defaults.mail_unverified_per_day)),
            mail_attempts=int(get("HANDOFF_MAIL_ATTEMPTS", defaults.mail_attempts)),
            mail_retry_seconds=float(get("HANDOFF_MAIL_RETRY_SECONDS", defaults.mail_retry_seconds)),
            identity_secrets=tuple(
                secret.strip() for secret in get("HANDOFF_IDENTITY_SECRET", "").split(",") if secret.strip()
            ),
            identity_max_age_seconds=int(get("HANDOFF_IDENTITY_MAX_AGE", defaults.identity_max_age_seconds)),
        )
        if not isinstance(settings.skill_groups, dict):
            raise ValueError('HANDOFF_SKILL_GROUPS must be a JSON object such as {"card_arrival": "cards"}')
        BusinessHours.parse(settings.business_hours, settings.timezone)  # refuses a bad schedule now
        parse_targets(settings.sla)  # refuses bad response-time targets now
        if settings.max_message_bytes < 256 or settings.message_burst < 1 or settings.messages_per_second <= 0:
            raise ValueError("message limits must allow at least one 256-byte message per second")
        parse_networks(settings.trusted_proxies)  # refuses a bad address now
        if not 16 <= settings.ipv6_prefix <= 128:
            raise ValueError("HANDOFF_IPV6_PREFIX must be from 16 to 128 (64: one home connection's network)")
        if not settings.hello_timeout_seconds >= 1:  # also refuses nan
            raise ValueError("HANDOFF_HELLO_TIMEOUT must be at least 1 second")
        if settings.customer_gone_seconds < 3 or settings.idle_conversation_seconds < 3:
            raise ValueError("HANDOFF_CUSTOMER_GONE_SECONDS and HANDOFF_IDLE_CONVERSATION_SECONDS must be at least 3")
        if not settings.status_refresh_seconds >= 1:  # also refuses nan
            raise ValueError("HANDOFF_STATUS_REFRESH_SECONDS must be at least 1")
        if not settings.assign_accept_seconds >= 1 or not 0.1 <= settings.assign_round_seconds <= 60:
            raise ValueError("HANDOFF_ASSIGN_ACCEPT_SECONDS must be at least 1, HANDOFF_ASSIGN_ROUND_SECONDS 0.1 to 60")
        if settings.collect_after_sockets < 1:
            raise ValueError("HANDOFF_COLLECT_AFTER_SOCKETS must be at least 1")
        if not settings.allowed_hosts:
            raise ValueError("HANDOFF_ALLOWED_HOSTS must name at least one host (e.g. chat.example.com)")
        if not 0 < len(settings.dispositions) <= MAX_DISPOSITIONS or len(set(settings.dispositions)) < len(
                settings.dispositions) or any(len(name) > MAX_DISPOSITION for name in settings.dispositions):
            raise ValueError(f"HANDOFF_DISPOSITIONS must list 1-{MAX_DISPOSITIONS} different names of at most "
                             f"{MAX_DISPOSITION} characters, separated by commas")
        if settings.max_attachment_bytes < 1024 or settings.max_uploads_per_sender < 1 or settings.max_uploads_per_ip < 1:
            raise ValueError("HANDOFF_MAX_ATTACHMENT_BYTES must be at least 1024 and the upload caps at least 1")
        if min(settings.max_file_bytes_per_conversation, settings.max_file_bytes_per_day,
               settings.max_file_bytes_per_address_per_day) < 1024:
            raise ValueError("HANDOFF_MAX_FILE_BYTES_PER_CONVERSATION, HANDOFF_MAX_FILE_BYTES_PER_DAY and "
                             "HANDOFF_MAX_FILE_BYTES_PER_ADDRESS_PER_DAY must be at least 1024")
        check_mail_settings(settings)
        if any(len(secret) < 32 for secret in settings.identity_secrets):
            raise ValueError("each of HANDOFF_IDENTITY_SECRET's secrets (separated by commas) must have at least 32 "
                             "characters")
        if not 60 <= settings.identity_max_age_seconds <= 30 * 24 * 3600:
            raise ValueError("HANDOFF_IDENTITY_MAX_AGE must be from 60 seconds to 30 days")
        if len(settings.secret) < 16:
            raise ValueError("HANDOFF_SECRET must be set to at least 16 characters (agent tokens are signed with it)")
        return settings

    @property
    def mail_enabled(self) -> bool:
        """Whether transcripts may be emailed: an SMTP server is configured."""
        return bool(self.smtp_host)

    def origin_allowed(self, origin: Optional[str]) -> bool:
        """Browsers send Origin; other clients (tests, servers) do not.

        Pages the bridge serves on its configured host names (directly, or behind a TLS proxy)
        are allowed; other sites must be listed. ``Host`` is never trusted for this.
        """
        if not origin:
            return True
        return (origin in own_origins(self.allowed_hosts, self.port) or origin in self.allowed_origins
                or "*" in self.allowed_origins)
