"""Schema migrations (sqlite-utils `Migrations`): append new ones, never edit applied ones.

Times are stored as ISO 8601 UTC text in one fixed format (`shared.timeutil.to_iso`),
so they sort and compare as strings.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("upwatch")


@MIGRATIONS(name="0001_initial")
def m0001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE agents (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            labels TEXT NOT NULL DEFAULT '[]',
            declared_labels TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            last_seen_at TEXT,
            agent_version TEXT,
            clock_skew_s REAL
        );
        -- One live token per agent name; revoked rows stay for the audit trail.
        CREATE UNIQUE INDEX agents_live_name ON agents(name) WHERE revoked_at IS NULL;

        CREATE TABLE results (
            id TEXT PRIMARY KEY,
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            started_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('up', 'down', 'degraded')),
            error TEXT,
            metrics TEXT NOT NULL DEFAULT '{}',
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX results_check_time ON results(check_id, started_at);

        -- Current state per (check, agent): the thresholds' counters.
        CREATE TABLE check_states (
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            status TEXT NOT NULL,
            since TEXT NOT NULL,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            consecutive_successes INTEGER NOT NULL DEFAULT 0,
            last_result_at TEXT NOT NULL,
            last_latency_ms REAL,
            last_error TEXT,
            PRIMARY KEY (check_id, agent)
        );

        -- Every change of a (check, agent) state: the facts the engine and history use.
        CREATE TABLE flips (
            id INTEGER PRIMARY KEY,
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            at TEXT NOT NULL,
            old_status TEXT NOT NULL,
            new_status TEXT NOT NULL
        );
        CREATE INDEX flips_check_time ON flips(check_id, at);

        CREATE TABLE component_status (
            component_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0002_incidents_maintenance_outbox")
def m0002_incidents_maintenance_outbox(db: Database) -> None:
    """The shared contract between the engine (writes), the public page and admin (read/write)
    and notification delivery (the outbox)."""
    db.executescript(
        """
        -- status and impact use Statuspage's enums exactly.
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('investigating', 'identified', 'monitoring', 'resolved', 'postmortem')),
            impact TEXT NOT NULL DEFAULT 'none' CHECK (impact IN ('none', 'minor', 'major', 'critical')),
            kind TEXT NOT NULL DEFAULT 'service',          -- service | agent_offline | manual
            public INTEGER NOT NULL DEFAULT 1,             -- 0: operators only until published
            auto INTEGER NOT NULL DEFAULT 0,               -- 1: opened by the engine
            drill INTEGER NOT NULL DEFAULT 0,              -- 1: a drill; never public
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            acknowledged_at TEXT,
            acknowledged_by TEXT,
            resolved_at TEXT,
            root_cause TEXT,                               -- markdown, sanitized on output
            postmortem TEXT,                               -- markdown, sanitized on output
            postmortem_published_at TEXT,
            problem_id INTEGER,
            forensics TEXT NOT NULL DEFAULT '{}'           -- JSON snapshot taken when it opened
        );
        CREATE INDEX incidents_created ON incidents(created_at);
        CREATE INDEX incidents_open ON incidents(status) WHERE status NOT IN ('resolved', 'postmortem');

        -- Public updates (what the status page and subscribers see), newest last by id.
        CREATE TABLE incident_updates (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            status TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            actor TEXT NOT NULL,                           -- "engine" or an operator name
            affected_components TEXT NOT NULL DEFAULT '[]' -- JSON [{component_id, old_status, new_status}]
        );
        CREATE INDEX incident_updates_incident ON incident_updates(incident_id, id);

        CREATE TABLE incident_components (
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            component_id TEXT NOT NULL,
            status TEXT NOT NULL,                          -- the component status it caused
            PRIMARY KEY (incident_id, component_id)
        );
        CREATE INDEX incident_components_component ON incident_components(component_id);

        -- The operator-facing timeline: every change with actor and time.
        CREATE TABLE incident_events (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,                            -- opened, acknowledged, escalated, updated, ...
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX incident_events_incident ON incident_events(incident_id, at);

        CREATE TABLE maintenances (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            body TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('scheduled', 'in_progress', 'completed')),
            scheduled_for TEXT NOT NULL,
            scheduled_until TEXT NOT NULL,
            started_at TEXT,
            completed_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT 'manual'          -- manual | config:<id> (recurring, cron)
        );
        CREATE INDEX maintenances_window ON maintenances(scheduled_for, scheduled_until);

        CREATE TABLE maintenance_components (
            maintenance_id INTEGER NOT NULL REFERENCES maintenances(id),
            component_id TEXT NOT NULL,
            PRIMARY KEY (maintenance_id, component_id)
        );

        -- Every side effect is a row here; the worker delivers it (claim = conditional UPDATE).
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL,                           -- incident.opened, incident.updated, ...
            destination_kind TEXT NOT NULL,                -- log, webhook, email, apprise, ...
            destination TEXT NOT NULL,                     -- channel name, address or URL
            payload TEXT NOT NULL,                         -- JSON
            idempotency_key TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            claimed_until TEXT,                            -- a worker's lease; expired = free again
            claimed_by TEXT,
            last_error TEXT,
            delivered_at TEXT,
            failed_at TEXT                                 -- permanent failure: no more attempts
        );
        CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
        """
    )


@MIGRATIONS(name="0003_incident_engine")
def m0003_incident_engine(db: Database) -> None:
    """State the incident engine keeps: episodes, escalation, problems, location problems,
    failure-rate and metric-breach memory per (check, agent), and the worker's own heartbeat."""
    db.executescript(
        """
        -- One open incident per episode key ("component:<id>", "agent:<name>"); the index
        -- makes a duplicate impossible even when two processes evaluate at once.
        ALTER TABLE incidents ADD COLUMN episode_key TEXT;
        ALTER TABLE incidents ADD COLUMN impact_manual INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE incidents ADD COLUMN published_at TEXT;
        ALTER TABLE incidents ADD COLUMN escalation_policy TEXT;
        ALTER TABLE incidents ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT -1;  -- last level paged
        ALTER TABLE incidents ADD COLUMN escalation_round INTEGER NOT NULL DEFAULT 0;    -- repeats done
        ALTER TABLE incidents ADD COLUMN next_escalation_at TEXT;                       -- NULL: nothing due
        CREATE UNIQUE INDEX incidents_open_episode ON incidents(episode_key)
            WHERE episode_key IS NOT NULL AND status NOT IN ('resolved', 'postmortem');
        CREATE INDEX incidents_escalation_due ON incidents(next_escalation_at)
            WHERE next_escalation_at IS NOT NULL;
        CREATE INDEX incidents_problem ON incidents(problem_id) WHERE problem_id IS NOT NULL;

        -- Problem records group recurring incidents (ITIL "problem": the cause behind them).
        CREATE TABLE problems (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',         -- markdown, sanitized on output
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            closed_at TEXT
        );

        -- One location failing alone: visible to operators, never public.
        CREATE TABLE location_problems (
            id INTEGER PRIMARY KEY,
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            closed_at TEXT,
            last_error TEXT
        );
        CREATE UNIQUE INDEX location_problems_open ON location_problems(check_id, agent)
            WHERE closed_at IS NULL;

        -- health: the status from checks alone (maintenance not applied);
        -- incident_id: the incident handling the component's current bad episode.
        ALTER TABLE component_status ADD COLUMN health TEXT;
        ALTER TABLE component_status ADD COLUMN incident_id INTEGER;

        -- Failure-rate window (last outcomes, newest last: u/d/g) and metric breaches
        -- (threshold text -> ISO time it started) per (check, agent).
        ALTER TABLE check_states ADD COLUMN recent TEXT NOT NULL DEFAULT '';
        ALTER TABLE check_states ADD COLUMN breaches TEXT NOT NULL DEFAULT '{}';

        -- A recurring window from config is materialised once per occurrence.
        CREATE UNIQUE INDEX maintenances_occurrence ON maintenances(source, scheduled_for)
            WHERE source != 'manual';

        -- Small engine facts: the worker's last pass (collector downtime), grace deadlines.
        CREATE TABLE engine_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0004_postmortem_action_items")
def m0004_postmortem_action_items(db: Database) -> None:
    """Postmortem action items, and whether a public update is sent to subscribers
    (a published postmortem tells subscribers only when the operator asks)."""
    db.executescript(
        """
        CREATE TABLE action_items (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            description TEXT NOT NULL,
            owner TEXT NOT NULL,
            due_on TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            done_at TEXT
        );
        CREATE INDEX action_items_incident ON action_items(incident_id);
        ALTER TABLE incident_updates ADD COLUMN notify_subscribers INTEGER NOT NULL DEFAULT 1;
        """
    )


@MIGRATIONS(name="0005_subscriptions_delivery")
def m0005_subscriptions_delivery(db: Database) -> None:
    """Subscribers, webhook subscriptions, per-destination delivery state, fan-out watermarks
    and operator notices (owned by statuspage.notify)."""
    db.executescript(
        """
        -- Email subscribers (double opt-in). components '[]' means every component.
        CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,                    -- normalized address
            status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'bounced')),
            components TEXT NOT NULL DEFAULT '[]',
            pending_components TEXT NOT NULL DEFAULT '[]', -- applied when the confirm link is used
            confirm_token_hash TEXT,                       -- SHA-256; the token is only in the mail
            confirm_expires_at TEXT,
            unsubscribe_token TEXT NOT NULL UNIQUE,        -- capability in every mail's links
            created_at TEXT NOT NULL,
            confirmed_at TEXT,
            unsubscribed_at TEXT
        );
        CREATE INDEX subscribers_confirmed ON subscribers(status) WHERE status = 'confirmed';

        -- Webhook subscriptions: operator-registered (trusted) or self-service (verified first).
        CREATE TABLE webhook_subscriptions (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            secret TEXT NOT NULL,                          -- whsec_...: the receiver verifies with it
            origin TEXT NOT NULL CHECK (origin IN ('operator', 'self')),
            status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'removed')),
            components TEXT NOT NULL DEFAULT '[]',
            description TEXT NOT NULL DEFAULT '',
            verify_token_hash TEXT,
            verify_expires_at TEXT,
            unsubscribe_token TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            verified_at TEXT,
            disabled_at TEXT,
            disabled_reason TEXT
        );

        -- Delivery health per destination: a destination failing for long is disabled.
        CREATE TABLE destinations (
            kind TEXT NOT NULL,
            destination TEXT NOT NULL,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            failing_since TEXT,
            last_error TEXT,
            last_success_at TEXT,
            disabled_at TEXT,
            disabled_reason TEXT,
            PRIMARY KEY (kind, destination)
        );

        -- Durable fan-out progress: what has been turned into outbox rows already.
        CREATE TABLE notify_watermarks (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );
        CREATE TABLE maintenance_notifications (
            maintenance_id INTEGER NOT NULL,
            status TEXT NOT NULL,
            notified_at TEXT NOT NULL,
            PRIMARY KEY (maintenance_id, status)
        );

        -- Form submissions, for rate limits per client address and per email address.
        CREATE TABLE subscribe_attempts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,                             -- client:<address> | email:<address>
            at TEXT NOT NULL
        );
        CREATE INDEX subscribe_attempts_key ON subscribe_attempts(key, at);

        -- Things operators must hear about that belong to no incident (a disabled destination).
        CREATE TABLE operator_notices (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,                            -- destination_disabled, ...
            subject TEXT NOT NULL,
            message TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            acknowledged_at TEXT
        );
        CREATE INDEX outbox_destination ON outbox(destination_kind, destination)
            WHERE delivered_at IS NULL AND failed_at IS NULL;
        """
    )
    # What existed before notifications were installed is history: never mail it.
    db.execute(
        "INSERT INTO notify_watermarks (name, value) "
        "SELECT 'incident_updates', COALESCE(MAX(id), 0) FROM incident_updates"
    )
    db.execute(
        "INSERT INTO maintenance_notifications (maintenance_id, status, notified_at) "
        "SELECT id, status, updated_at FROM maintenances"
    )


@MIGRATIONS(name="0006_rollups_and_status_history")
def m0006_rollups_and_status_history(db: Database) -> None:
    """Rollups of results (per minute, hour and day) and each component's status intervals,
    so pages read small pre-aggregated tables and never scan raw results."""
    db.executescript(
        """
        -- bucket is the start of the period as an ISO prefix: 2026-11-27T12:05 / 2026-11-27T12 / 2026-11-27.
        CREATE TABLE rollups_minute (
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            bucket TEXT NOT NULL,
            count INTEGER NOT NULL,
            up INTEGER NOT NULL,
            degraded INTEGER NOT NULL,
            down INTEGER NOT NULL,
            latency_sum_ms REAL NOT NULL,
            latency_max_ms REAL NOT NULL,
            PRIMARY KEY (check_id, agent, bucket)
        ) WITHOUT ROWID;
        CREATE TABLE rollups_hour (
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            bucket TEXT NOT NULL,
            count INTEGER NOT NULL,
            up INTEGER NOT NULL,
            degraded INTEGER NOT NULL,
            down INTEGER NOT NULL,
            latency_sum_ms REAL NOT NULL,
            latency_max_ms REAL NOT NULL,
            PRIMARY KEY (check_id, agent, bucket)
        ) WITHOUT ROWID;
        CREATE TABLE rollups_day (
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            bucket TEXT NOT NULL,
            count INTEGER NOT NULL,
            up INTEGER NOT NULL,
            degraded INTEGER NOT NULL,
            down INTEGER NOT NULL,
            latency_sum_ms REAL NOT NULL,
            latency_max_ms REAL NOT NULL,
            PRIMARY KEY (check_id, agent, bucket)
        ) WITHOUT ROWID;

        -- Results counted since the start, per (check, agent, status): Prometheus counters.
        CREATE TABLE result_counters (
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            status TEXT NOT NULL,
            total INTEGER NOT NULL,
            PRIMARY KEY (check_id, agent, status)
        ) WITHOUT ROWID;

        -- Where each incremental pass stopped (results rowid, last computed day, ...).
        CREATE TABLE rollup_watermarks (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        -- Each component's status as intervals; the open one has ended_at NULL.
        CREATE TABLE component_status_history (
            id INTEGER PRIMARY KEY,
            component_id TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT
        );
        CREATE INDEX component_status_history_time ON component_status_history(component_id, started_at);
        CREATE INDEX component_status_history_ended ON component_status_history(ended_at);

        -- Seconds of each status per component and UTC day; maintenance time is carved out.
        CREATE TABLE component_days (
            component_id TEXT NOT NULL,
            day TEXT NOT NULL,
            operational_s REAL NOT NULL DEFAULT 0,
            degraded_s REAL NOT NULL DEFAULT 0,
            partial_s REAL NOT NULL DEFAULT 0,
            major_s REAL NOT NULL DEFAULT 0,
            maintenance_s REAL NOT NULL DEFAULT 0,
            unknown_s REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (component_id, day)
        ) WITHOUT ROWID;
        CREATE INDEX component_days_day ON component_days(day);
        """
    )
    # Components that already have a status start their history now.
    db.execute(
        "INSERT INTO component_status_history (component_id, status, started_at)"
        " SELECT component_id, status, updated_at FROM component_status"
    )


@MIGRATIONS(name="0007_agent_liveness_and_spool")
def m0007_agent_liveness_and_spool(db: Database) -> None:
    """What ingest and the liveness rule keep per agent."""
    db.executescript(
        """
        -- Results the agent's spool dropped under its size cap: our running total,
        -- and the agent's last cumulative counter (so a replayed report adds nothing).
        ALTER TABLE agents ADD COLUMN dropped_results INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE agents ADD COLUMN dropped_reported INTEGER NOT NULL DEFAULT 0;
        -- Replayed results ingest ignored (at-least-once delivery at work).
        ALTER TABLE agents ADD COLUMN duplicate_results INTEGER NOT NULL DEFAULT 0;
        -- Liveness: set (claimed) when the agent went silent, with its "agent offline" incident.
        ALTER TABLE agents ADD COLUMN offline_since TEXT;
        ALTER TABLE agents ADD COLUMN offline_incident_id INTEGER;
        """
    )


@MIGRATIONS(name="0008_admin_accounts")
def m0008_admin_accounts(db: Database) -> None:
    """Operators, their server-side sessions, login failures (rate limits), API tokens,
    the audit log of every change, and operator overrides of component status."""
    db.executescript(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,                   -- argon2id, PHC string
            totp_secret TEXT,                              -- base32; NULL: no second factor
            created_at TEXT NOT NULL,
            password_changed_at TEXT NOT NULL,
            disabled_at TEXT
        );

        -- Only a SHA-256 of the session token is stored; the cookie holds the token.
        CREATE TABLE admin_sessions (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            user_id INTEGER NOT NULL REFERENCES users(id),
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT,
            client_address TEXT NOT NULL DEFAULT '',
            user_agent TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX admin_sessions_user ON admin_sessions(user_id) WHERE revoked_at IS NULL;

        CREATE TABLE login_failures (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            client_address TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX login_failures_account ON login_failures(account, at);
        CREATE INDEX login_failures_address ON login_failures(client_address, at);

        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        );
        CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens(name) WHERE revoked_at IS NULL;

        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,                           -- user:<name>, token:<name>, cli
            action TEXT NOT NULL,                          -- incident.acknowledge, session.login, ...
            target TEXT NOT NULL DEFAULT '',
            client_address TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX audit_log_at ON audit_log(at);

        -- An operator's word beats the checks until cleared (shown on the public page).
        CREATE TABLE component_overrides (
            component_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0009_drills")
def m0009_drills(db: Database) -> None:
    """Incident drills: a synthetic failure sent through the real pipeline, and its report."""
    db.executescript(
        """
        CREATE TABLE drills (
            id INTEGER PRIMARY KEY,
            component_id TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,                      -- agents stop failing the checks then
            notify_subscribers INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'aborted')),
            finished_at TEXT,
            incident_id INTEGER,
            report TEXT NOT NULL DEFAULT '{}'           -- JSON: the measured timings
        );
        CREATE INDEX drills_running ON drills(component_id) WHERE status = 'running';
        """
    )


@MIGRATIONS(name="0010_burn_rate_alerts")
def m0010_burn_rate_alerts(db: Database) -> None:
    """Components whose error budget is burning too fast right now (one row while alerting)."""
    db.executescript(
        """
        CREATE TABLE burn_alerts (
            component_id TEXT PRIMARY KEY,
            alerting_since TEXT NOT NULL,
            burn_rate REAL NOT NULL
        );
        """
    )


@MIGRATIONS(name="0011_heartbeats")
def m0011_heartbeats(db: Database) -> None:
    """Heartbeat (push) checks: their random ping keys, deadline markers and every ping received."""
    db.executescript(
        """
        CREATE TABLE heartbeats (
            check_id TEXT PRIMARY KEY,
            ping_key TEXT NOT NULL UNIQUE,                 -- random; never derived from the id
            created_at TEXT NOT NULL,                      -- first deadline counts from here
            last_ping_at TEXT,
            last_success_at TEXT,
            missed_deadline TEXT,                          -- the deadline a miss was recorded for
            missed_noted_at TEXT                           -- when it was (re)recorded
        );

        CREATE TABLE heartbeat_pings (
            id INTEGER PRIMARY KEY,
            check_id TEXT NOT NULL,
            at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail', 'log')),
            exit_status INTEGER,
            rid TEXT,
            duration_s REAL,                               -- on an end paired with its start
            ended_at TEXT,                                 -- on a start, once its end arrived
            method TEXT NOT NULL,
            remote_addr TEXT,
            user_agent TEXT,
            body TEXT,
            body_truncated INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX heartbeat_pings_check_time ON heartbeat_pings(check_id, at);
        CREATE INDEX heartbeat_pings_open_starts ON heartbeat_pings(check_id)
            WHERE kind = 'start' AND ended_at IS NULL;
        """
    )


@MIGRATIONS(name="0012_totp_replay")
def m0012_totp_replay(db: Database) -> None:
    """The last TOTP time step each operator used: a code is accepted once, never replayed."""
    db.executescript("ALTER TABLE users ADD COLUMN totp_last_step INTEGER;")


@MIGRATIONS(name="0013_login_devices")
def m0013_login_devices(db: Database) -> None:
    """Device cookies of browsers that signed in before (OWASP), and which device a failed
    login came from: failures lock out (account, address) and that device, not the account."""
    db.executescript(
        """
        CREATE TABLE login_devices (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_used_at TEXT NOT NULL
        );
        CREATE INDEX login_devices_last_used ON login_devices(last_used_at);
        ALTER TABLE login_failures ADD COLUMN device_id INTEGER;
        CREATE INDEX login_failures_device ON login_failures(device_id, at);
        CREATE INDEX login_failures_account_address ON login_failures(account, client_address, at);
        """
    )


@MIGRATIONS(name="0014_oncall")
def m0014_oncall(db: Database) -> None:
    """On call: schedule overrides, contact verifications, used action links, the link signing key."""
    db.executescript(
        """
        -- Someone takes a stretch of a schedule (from `replaces`, or from whoever is on call).
        CREATE TABLE oncall_overrides (
            id INTEGER PRIMARY KEY,
            schedule_id TEXT NOT NULL,
            responder TEXT NOT NULL,
            replaces TEXT,                                 -- NULL: whoever is on call, gaps too
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX oncall_overrides_schedule ON oncall_overrides(schedule_id, ends_at);

        -- A contact method is used once its address was confirmed through a link sent to it.
        CREATE TABLE oncall_verifications (
            id INTEGER PRIMARY KEY,
            responder TEXT NOT NULL,
            contact_id TEXT NOT NULL,
            address_hash TEXT NOT NULL,                    -- SHA-256 of the address verified
            requested_at TEXT NOT NULL,
            verified_at TEXT,
            UNIQUE (responder, contact_id, address_hash)
        );

        -- Each signed link acts once: its nonce is claimed here (replays are refused).
        CREATE TABLE oncall_link_uses (
            nonce TEXT PRIMARY KEY,
            incident_id INTEGER NOT NULL,
            responder TEXT NOT NULL,
            action TEXT NOT NULL,
            used_at TEXT NOT NULL,
            client_address TEXT NOT NULL DEFAULT ''
        );

        CREATE TABLE oncall_keys (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0014_oncall_personal")
def m0014_oncall_personal(db: Database) -> None:
    """A responder's own contact methods and notification rules, edited in the admin UI/API;
    they replace the configuration's for that responder while the row exists."""
    db.executescript(
        """
        CREATE TABLE oncall_personal (
            responder TEXT PRIMARY KEY,
            contacts TEXT NOT NULL,                        -- JSON list, as [[responders]] contacts
            rules TEXT NOT NULL,                           -- JSON list, as [[responders]] rules
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0015_responses")
def m0015_responses(db: Database) -> None:
    """Automated response: orders for agents' remediation actions, their results, and the actions
    each agent offers."""
    db.executescript(
        """
        CREATE TABLE response_orders (
            id INTEGER PRIMARY KEY,
            order_uid TEXT NOT NULL UNIQUE,                -- the id the agent sees (random UUID)
            dedupe_key TEXT UNIQUE,                        -- rule orders: one per rule/incident/agent/attempt
            incident_id INTEGER NOT NULL,
            rule_id TEXT,                                  -- NULL: asked for by a person
            attempt INTEGER NOT NULL DEFAULT 1,
            agent_name TEXT NOT NULL,
            action_id TEXT NOT NULL,
            -- awaiting_approval pending done expired cancelled skipped
            status TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            approved_by TEXT,
            approved_at TEXT,
            outcome TEXT,                          -- the agent's: ran failed refused expired interrupted
            exit_code INTEGER,
            timed_out INTEGER NOT NULL DEFAULT 0,
            duration_s REAL,
            stdout TEXT,
            stderr TEXT,
            reason TEXT,
            finished_at TEXT,
            rechecked INTEGER NOT NULL DEFAULT 0           -- the rule's re-check after this order was made
        );
        CREATE INDEX response_orders_incident ON response_orders(incident_id);
        CREATE INDEX response_orders_open ON response_orders(status, agent_name);

        CREATE TABLE agent_actions (
            agent_name TEXT PRIMARY KEY,
            actions TEXT NOT NULL,                         -- JSON list of action ids (never command lines)
            reported_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0016_agent_spool_backlog")
def m0016_agent_spool_backlog(db: Database) -> None:
    """The agents page shows how many results each agent's spool still holds."""
    db.execute("ALTER TABLE agents ADD COLUMN spool_backlog INTEGER NOT NULL DEFAULT 0")


@MIGRATIONS(name="0016_demo_mail")
def m0016_demo_mail(db: Database) -> None:
    """Mail caught by the demo's local sink (`mail-sink`), shown to operators."""
    db.executescript(
        """
        CREATE TABLE demo_mail (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            sender TEXT NOT NULL,
            recipients TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0017_heartbeat_ping_key")
def m0017_heartbeat_ping_key(db: Database) -> None:
    """The installation's ping key for slug URLs (/ping/<ping-key>/<slug>, as healthchecks.io's
    project ping key): random, one row, made on first use."""
    db.executescript(
        """
        CREATE TABLE heartbeat_ping_key (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            ping_key TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0018_results_arrival_order")
def m0018_results_arrival_order(db: Database) -> None:
    """PostgreSQL only: results get `seq`, the arrival order SQLite keeps in its rowid (rollup watermark)."""
    if getattr(db, "engine", "sqlite") != "postgresql":
        return  # SQLite numbers rows already (rowid)
    db.executescript(
        """
        ALTER TABLE results ADD COLUMN seq BIGINT GENERATED BY DEFAULT AS IDENTITY;
        CREATE INDEX results_seq ON results(seq);
        """
    )


@MIGRATIONS(name="0020_outbox_due_by_kind")
def m0020_outbox_due_by_kind(db: Database) -> None:
    """Each delivery lane claims the due rows of its own kinds: an index in that order, so a
    lane with nothing due (webhooks after a 10,000-mail fan-out) reads nothing instead of
    every pending mail row."""
    db.executescript(
        """
        CREATE INDEX outbox_due_kind ON outbox(destination_kind, next_attempt_at, id)
            WHERE delivered_at IS NULL AND failed_at IS NULL;
        """
    )


@MIGRATIONS(name="0021_heartbeat_auto_checks")
def m0021_heartbeat_auto_checks(db: Database) -> None:
    """Heartbeat checks created by their first ping (`/ping/<ping-key>/<slug>?create=1`, as
    healthchecks.io auto-provisions): one row each; the collector's settings give the rest."""
    db.executescript(
        """
        CREATE TABLE heartbeat_auto_checks (
            id INTEGER PRIMARY KEY,
            check_id TEXT NOT NULL UNIQUE,
            slug TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            created_from TEXT
        );
        """
    )


@MIGRATIONS(name="0022_oncall_schedules")
def m0022_oncall_schedules(db: Database) -> None:
    """Schedules made in the admin UI/API (those in upwatch.toml stay in the file): the whole
    schedule (name, zone, layers) as JSON in the fields of `[[schedules]]`, validated as the file is."""
    db.executescript(
        """
        CREATE TABLE oncall_schedules (
            id INTEGER PRIMARY KEY,
            schedule_id TEXT NOT NULL UNIQUE,
            definition TEXT NOT NULL,                      -- JSON, the fields of [[schedules]]
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0026_oncall_responders")
def m0026_oncall_responders(db: Database) -> None:
    """Operator accounts made responders in the admin UI/API (those of upwatch.toml stay in the
    file): the name (the account's), a display name, who made them one and when. Their contact
    methods and rules are personal settings (`oncall_personal`), as for the file's responders."""
    db.executescript(
        """
        CREATE TABLE oncall_responders (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            display_name TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0027_agent_state_serial")
def m0027_agent_state_serial(db: Database) -> None:
    """A random number replaced in every transaction that writes an agent's check states: an
    ingest process that finds the one it left knows the states it wrote last are still the
    stored ones, and skips reading them back (`ingest/state_cache.py`)."""
    db.execute("ALTER TABLE agents ADD COLUMN state_serial INTEGER NOT NULL DEFAULT 0")


# m0001's text of the rule, and the same rule written as comparisons.
_STATUS_IN_LIST = "CHECK (status IN ('up', 'down', 'degraded'))"
_STATUS_COMPARED = "CHECK (status = 'up' OR status = 'down' OR status = 'degraded')"


@MIGRATIONS(name="0028_results_status_rule_compared")
def m0028_results_status_rule_compared(db: Database) -> None:
    """SQLite only: results' status rule as three comparisons instead of an IN list.

    SQLite builds an IN list's lookup table again for every row it inserts: 2 µs per
    result, a sixth of ingest's CPU for a 500-result report (issue 18). The rule is the
    same, so no stored row can break it, and the file's format does not change: the
    table's definition is edited in place, the procedure sqlite.org/lang_altertable.html
    gives for changing a constraint ("making other kinds of table schema changes"),
    instead of copying a year of results into a new table. PostgreSQL checks an IN list
    without that cost.
    """
    if getattr(db, "engine", "sqlite") != "sqlite":
        return
    conn = db.conn
    (definition,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'results'"
    ).fetchone()
    if _STATUS_IN_LIST not in definition:
        return
    # Inside the migrations' transaction: readers see the old definition or the new one.
    (version,) = conn.execute("PRAGMA schema_version").fetchone()
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute(
            "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'results'",
            {"sql": definition.replace(_STATUS_IN_LIST, _STATUS_COMPARED)},
        )
        # Every connection rereads the schema when this number changes (step 7 of the procedure).
        conn.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
