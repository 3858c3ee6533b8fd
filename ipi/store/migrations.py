"""Named schema migrations, applied in order and recorded in ``ipi_migration``.

Never edit a migration that has shipped: add a new one. Natural keys
throughout. The report tables carry no PRIMARY KEY index: a load replaces whole
(account, marketplace, day) partitions and checks key uniqueness in the stage,
and an ART index would slow million-row loads several-fold.
"""

from __future__ import annotations

from ipi.store import asin_day

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_landing_and_reports",
        """
        CREATE TABLE raw_file (
            sha256 VARCHAR PRIMARY KEY,
            size_bytes BIGINT NOT NULL,
            landing_path VARCHAR NOT NULL,   -- relative to the data folder
            first_seen_at TIMESTAMP NOT NULL
        );
        CREATE TABLE ingested_file (
            account VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            report_type VARCHAR NOT NULL,
            original_name VARCHAR NOT NULL,
            source VARCHAR NOT NULL,          -- 'file' or, later, 'sp-api:<report id>'
            charset VARCHAR NOT NULL,
            date_source VARCHAR NOT NULL,     -- content | file name | ingestion day
            rows BIGINT NOT NULL,
            -- the day and marketplace the rows get when the file names none: the same
            -- bytes for another day or marketplace are another load (a header-only
            -- stranded report is byte-identical every day and in every marketplace)
            default_date DATE NOT NULL,
            default_marketplace VARCHAR NOT NULL,
            marketplace_source VARCHAR NOT NULL,  -- content | default
            ingested_at TIMESTAMP NOT NULL,
            PRIMARY KEY (account, sha256, default_date, default_marketplace)
        );
        CREATE TABLE report_partition (
            account VARCHAR NOT NULL,
            marketplace VARCHAR NOT NULL,
            report_type VARCHAR NOT NULL,
            snapshot_date DATE NOT NULL,
            sha256 VARCHAR NOT NULL,          -- the file whose rows are loaded now
            rows BIGINT NOT NULL,
            loaded_at TIMESTAMP NOT NULL,
            unreliable VARCHAR,               -- why these rows are not to be trusted, if so
            PRIMARY KEY (account, marketplace, report_type, snapshot_date)
        );
        CREATE TABLE fba_inventory_planning (
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL,
            snapshot_date DATE NOT NULL, sku VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            fnsku VARCHAR, asin VARCHAR, product_name VARCHAR, condition VARCHAR,
            available BIGINT, pending_removal_quantity BIGINT, reserved_quantity BIGINT,
            unfulfillable_quantity BIGINT, inbound_quantity BIGINT,
            units_shipped_t7 BIGINT, units_shipped_t30 BIGINT, units_shipped_t60 BIGINT,
            units_shipped_t90 BIGINT, sell_through DOUBLE, days_of_supply DOUBLE,
            estimated_excess_quantity DOUBLE, recommended_action VARCHAR,
            healthy_inventory_level DOUBLE,
            inv_age_0_to_90_days BIGINT, inv_age_91_to_180_days BIGINT,
            inv_age_181_to_270_days BIGINT, inv_age_271_to_365_days BIGINT,
            inv_age_365_plus_days BIGINT, inv_age_366_to_455_days BIGINT,
            inv_age_456_plus_days BIGINT,
            currency VARCHAR, your_price DOUBLE, storage_type VARCHAR, storage_volume DOUBLE,
            alert VARCHAR
        );
        CREATE TABLE stranded_inventory (
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL,
            snapshot_date DATE NOT NULL, sku VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            asin VARCHAR, fnsku VARCHAR, product_name VARCHAR, condition VARCHAR,
            primary_action VARCHAR, date_stranded DATE, date_to_take_auto_removal DATE,
            status_primary VARCHAR, status_secondary VARCHAR, error_message VARCHAR,
            stranded_reason VARCHAR, fulfilled_by VARCHAR,
            fulfillable_qty BIGINT, unfulfillable_qty BIGINT, reserved_quantity BIGINT,
            inbound_shipped_qty BIGINT, your_price DOUBLE
        );
        CREATE TABLE fba_myi_inventory (
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL,
            snapshot_date DATE NOT NULL, sku VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            fnsku VARCHAR, asin VARCHAR, product_name VARCHAR, condition VARCHAR,
            your_price DOUBLE, mfn_listing_exists VARCHAR, mfn_fulfillable_quantity BIGINT,
            afn_listing_exists VARCHAR, afn_warehouse_quantity BIGINT,
            afn_fulfillable_quantity BIGINT, afn_unsellable_quantity BIGINT,
            afn_reserved_quantity BIGINT, afn_total_quantity BIGINT, per_unit_volume DOUBLE,
            afn_inbound_working_quantity BIGINT, afn_inbound_shipped_quantity BIGINT,
            afn_inbound_receiving_quantity BIGINT, afn_researching_quantity BIGINT
        );
        """,
    ),
    (
        "0002_scores_and_alerts",
        """
        CREATE TABLE daily_score (
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL, date DATE NOT NULL,
            units_on_hand DOUBLE, excess_units DOUBLE, excess_pct DOUBLE,
            units_shipped_t90 DOUBLE, avg_units_on_hand DOUBLE, sell_through DOUBLE,
            sell_through_approx BOOLEAN, stranded_units DOUBLE, stranded_pct DOUBLE,
            in_stock_rate DOUBLE, in_stock_days INTEGER, in_stock_approx BOOLEAN,
            score DOUBLE, score_low DOUBLE, score_high DOUBLE,
            status VARCHAR NOT NULL,          -- ok | approximate | partial | unreliable | no data
            notes VARCHAR, model VARCHAR NOT NULL, computed_at TIMESTAMP NOT NULL,
            PRIMARY KEY (account, marketplace, date)
        );
        CREATE TABLE alert_state (
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL, rule VARCHAR NOT NULL,
            state VARCHAR NOT NULL,           -- normal | firing
            since DATE, last_date DATE, last_value DOUBLE, updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (account, marketplace, rule)
        );
        CREATE TABLE alert_outbox (
            key VARCHAR PRIMARY KEY,          -- same event, same key: never sent twice
            account VARCHAR NOT NULL, date DATE NOT NULL, kind VARCHAR NOT NULL,
            title VARCHAR NOT NULL, body VARCHAR NOT NULL, tags VARCHAR NOT NULL,
            status VARCHAR NOT NULL,          -- pending | sent | no-targets
            created_at TIMESTAMP NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TIMESTAMP, last_error VARCHAR, sent_at TIMESTAMP
        );
        """,
    ),
    (
        "0003_alert_semantics",
        """
        ALTER TABLE alert_state ADD COLUMN count INTEGER DEFAULT 0;
        ALTER TABLE alert_state ADD COLUMN last_notified DATE;
        CREATE TABLE alert_event (          -- every state change, for `ipi alerts history`
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL, rule VARCHAR NOT NULL,
            date DATE NOT NULL, from_state VARCHAR NOT NULL, to_state VARCHAR NOT NULL,
            value DOUBLE, note VARCHAR, recorded_at TIMESTAMP NOT NULL
        );
        CREATE TABLE alert_delivery (       -- one row per message and target
            key VARCHAR NOT NULL,           -- alert_outbox.key
            target VARCHAR NOT NULL,        -- a hash of the target URL, never the URL
            target_name VARCHAR NOT NULL,   -- e.g. 'Slack #2', for people
            status VARCHAR NOT NULL,        -- pending | sent | dropped
            attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TIMESTAMP, last_error VARCHAR, sent_at TIMESTAMP,
            PRIMARY KEY (key, target)
        );
        CREATE TABLE alert_silence (
            account VARCHAR NOT NULL, marketplace VARCHAR,   -- NULL: every marketplace
            until DATE NOT NULL, reason VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "0004_message_shapes",
        """
        ALTER TABLE alert_outbox ADD COLUMN short VARCHAR;   -- for chat targets
        ALTER TABLE alert_outbox ADD COLUMN html VARCHAR;    -- for email
        ALTER TABLE alert_outbox ADD COLUMN chart BLOB;      -- PNG attached to email
        """,
    ),
    (
        "0005_ledger_summary",
        """
        CREATE TABLE ledger_summary (
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL,
            snapshot_date DATE NOT NULL, fnsku VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            asin VARCHAR, msku VARCHAR, title VARCHAR, disposition VARCHAR,
            starting_warehouse_balance BIGINT, in_transit_between_warehouses BIGINT,
            receipts BIGINT, customer_shipments BIGINT, customer_returns BIGINT,
            vendor_returns BIGINT, warehouse_transfer_in_out BIGINT, found BIGINT, lost BIGINT,
            damaged BIGINT, disposed BIGINT, other_events BIGINT,
            ending_warehouse_balance BIGINT, unknown_events BIGINT, location VARCHAR
        );
        """,
    ),
    (
        "0006_backfill_window",
        """
        CREATE TABLE backfill_window (      -- what a backfill asked Amazon for, to resume it
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL,
            report_type VARCHAR NOT NULL, start_date DATE NOT NULL, end_date DATE NOT NULL,
            status VARCHAR NOT NULL,          -- requested | done | failed
            report_id VARCHAR,                -- Amazon's, so a restart polls it, not asks again
            rows BIGINT, detail VARCHAR, updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (account, marketplace, report_type, start_date, end_date)
        );
        """,
    ),
    (
        "0007_asin_day",
        """
        CREATE TABLE asin_day (             -- derived on load: see ipi/store/asin_day.py
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL, d DATE NOT NULL,
            asin VARCHAR NOT NULL, in_stock INTEGER, shipped BIGINT, t60 BIGINT
        );
        -- Filled from the stored reports by 0017, which runs the current refresh SQL
        -- after the columns it reads exist.
        """,
    ),
    (
        "0008_official_score_and_calibration",
        """
        CREATE TABLE official_score (       -- the IPI Seller Central showed, as recorded
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL, date DATE NOT NULL,
            score DOUBLE NOT NULL, recorded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (account, marketplace, date)
        );
        CREATE TABLE calibration (          -- the account's score model: ipi/score/calibrate.py
            account VARCHAR PRIMARY KEY, points INTEGER NOT NULL,
            w_excess DOUBLE NOT NULL, w_sell_through DOUBLE NOT NULL,   -- the weights used
            w_stranded DOUBLE NOT NULL, w_in_stock DOUBLE NOT NULL,
            fitted VARCHAR,                   -- JSON: the fit, also when it is not used
            mae DOUBLE, prior_mae DOUBLE NOT NULL, model_error DOUBLE NOT NULL,
            used BOOLEAN NOT NULL, fitted_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "0009_alert_paging",
        """
        -- What the on-call last heard (firing | normal), an acknowledgement, a flapping hold.
        ALTER TABLE alert_state ADD COLUMN paged VARCHAR DEFAULT 'normal';
        UPDATE alert_state SET paged = 'firing'
            WHERE state = 'firing' AND last_notified IS NOT NULL;
        ALTER TABLE alert_state ADD COLUMN acked DATE;
        ALTER TABLE alert_state ADD COLUMN flapping_since DATE;
        ALTER TABLE alert_outbox ADD COLUMN severity VARCHAR;  -- critical|warning|resolved|info|ops
        ALTER TABLE alert_outbox ADD COLUMN event VARCHAR;     -- JSON fields for webhooks
        -- Silences get an id (to list and expire them) and an expiry.
        CREATE SEQUENCE alert_silence_id START 1;
        CREATE TABLE alert_silence_v2 (
            id BIGINT PRIMARY KEY DEFAULT nextval('alert_silence_id'),
            account VARCHAR NOT NULL, marketplace VARCHAR,   -- NULL: every marketplace
            until DATE NOT NULL, reason VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
            expired_at TIMESTAMP                             -- set by `ipi alerts silence expire`
        );
        INSERT INTO alert_silence_v2 (account, marketplace, until, reason, created_at)
            SELECT account, marketplace, until, reason, created_at FROM alert_silence
            ORDER BY created_at;
        DROP TABLE alert_silence;
        ALTER TABLE alert_silence_v2 RENAME TO alert_silence;
        """,
    ),
    (
        "0010_forgotten_load",
        """
        CREATE TABLE forgotten_load (       -- partitions `ipi forget` took out: ipi/store/forget.py
            account VARCHAR NOT NULL, marketplace VARCHAR NOT NULL,
            report_type VARCHAR NOT NULL, snapshot_date DATE NOT NULL,
            sha256 VARCHAR NOT NULL,          -- the file they came from (raw_file keeps it)
            rows BIGINT NOT NULL,             -- rows removed
            loaded_at TIMESTAMP NOT NULL,     -- when they had been loaded
            reason VARCHAR NOT NULL,
            forgotten_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "0011_capacity_limit",
        """
        CREATE TABLE capacity_limit (       -- typed in from Seller Central: ipi/capacity.py
            account VARCHAR NOT NULL,
            storage_type VARCHAR NOT NULL,    -- standard | oversize | apparel | footwear
            month DATE NOT NULL,              -- the first of the month the limit is for
            limit_cuft DOUBLE NOT NULL,       -- cubic feet
            recorded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (account, storage_type, month)
        );
        """,
    ),
    (
        "0012_planning_capacity_and_fees",
        """
        -- The planning report's columns behind capacity and the fees (all may be empty).
        ALTER TABLE fba_inventory_planning ADD COLUMN item_volume DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN volume_unit_measurement VARCHAR;
        ALTER TABLE fba_inventory_planning ADD COLUMN inbound_working BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN inbound_shipped BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN inbound_received BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN inv_age_0_to_30_days BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN inv_age_31_to_60_days BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN inv_age_61_to_90_days BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN inv_age_181_to_330_days BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN inv_age_331_to_365_days BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_ais_181_210_days DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_ais_211_240_days DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_ais_241_270_days DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_ais_271_300_days DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_ais_301_330_days DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_ais_331_365_days DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_ais_366_455_days DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_ais_456_plus_days DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN estimated_storage_cost_next_month DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN historical_days_of_supply DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN short_term_historical_days_of_supply DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN long_term_historical_days_of_supply DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN fba_minimum_inventory_level DOUBLE;
        ALTER TABLE fba_inventory_planning ADD COLUMN fba_inventory_level_health_status VARCHAR;
        ALTER TABLE fba_inventory_planning ADD COLUMN exempted_from_low_inventory_level_fee VARCHAR;
        ALTER TABLE fba_inventory_planning ADD COLUMN low_inventory_level_fee_applied VARCHAR;
        """,
    ),
    (
        "0013_score_reference",
        """
        -- Official scores with their factor values, imported for this installation's
        -- default model (ipi official import-reference): ipi/score/prior.py
        CREATE TABLE reference_row (
            key VARCHAR PRIMARY KEY,          -- sha256 of the row's values: imports are idempotent
            source VARCHAR NOT NULL, week VARCHAR, marketplace VARCHAR, ipi DOUBLE,
            excess_pct DOUBLE, sell_through DOUBLE, stranded_pct DOUBLE, in_stock_pct DOUBLE,
            kind VARCHAR NOT NULL, notes VARCHAR, imported_at TIMESTAMP NOT NULL
        );
        -- The default model refitted with them (one row; none: the shipped prior).
        CREATE TABLE score_prior (
            name VARCHAR PRIMARY KEY, points INTEGER NOT NULL,
            w_excess DOUBLE NOT NULL, w_sell_through DOUBLE NOT NULL,
            w_stranded DOUBLE NOT NULL, w_in_stock DOUBLE NOT NULL,
            model_error DOUBLE NOT NULL, mae DOUBLE NOT NULL, bias DOUBLE NOT NULL,
            covered INTEGER NOT NULL, fitted_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "0014_carried_factors",
        """
        -- Factors carried from an earlier day when the day's report is missing: JSON
        -- {factor: the day it was measured}, and the points of band that adds each way.
        ALTER TABLE daily_score ADD COLUMN carried VARCHAR;
        ALTER TABLE daily_score ADD COLUMN carry_margin DOUBLE;
        """,
    ),
    (
        "0015_alert_repeats",
        """
        -- Repeats paged since the alert fired: the page budget (policy max_repeats).
        ALTER TABLE alert_state ADD COLUMN repeats INTEGER DEFAULT 0;
        """,
    ),
    (
        "0016_long_term_window",
        """
        -- Amazon's 2020 rule (ipi.score.window): the estimate from the day's factors
        -- alone, and the long-term factor values, JSON {factor: mean over 90 days}.
        ALTER TABLE daily_score ADD COLUMN score_recent DOUBLE;
        ALTER TABLE daily_score ADD COLUMN long_term VARCHAR;
        """,
    ),
    (
        "0017_layouts_2026",
        """
        -- The 2026 layouts (ipi/reports): FC-transfer units count as on hand since July
        -- 2025; the product group decides the apparel exemption of the aged surcharge.
        ALTER TABLE fba_inventory_planning ADD COLUMN fc_transfer BIGINT;
        ALTER TABLE fba_inventory_planning ADD COLUMN product_group VARCHAR;
        ALTER TABLE fba_myi_inventory ADD COLUMN afn_fc_transfer_quantity BIGINT;
        ALTER TABLE fba_myi_inventory ADD COLUMN afn_onhand_buyable_quantity BIGINT;
        """ + ";".join(asin_day.refresh_sql(
            # A store from before 0007 has reports but no asin_day yet: build it; any
            # other store's asin_day is already right (old layouts lack the new columns).
            "SELECT DISTINCT account, marketplace, snapshot_date AS d FROM report_partition "
            f"WHERE report_type IN {asin_day.SOURCES} "
            "AND NOT EXISTS (SELECT 1 FROM asin_day)")),
    ),
    (
        "0018_amazon_fee_forecast",
        """
        -- Amazon's own fee forecast, the Data Kiosk economicsPreview: ipi/fees/amazon.py.
        -- One preview per account, marketplace and the day it was fetched for; a preview
        -- without a document (sha256 NULL) is Amazon having nothing to forecast.
        CREATE TABLE amazon_forecast (
            account VARCHAR NOT NULL,
            marketplace VARCHAR NOT NULL,
            fetched_for DATE NOT NULL,        -- the day it was fetched for
            start_date DATE NOT NULL,         -- the window Amazon forecast, both days in
            end_date DATE NOT NULL,
            currency VARCHAR,
            sha256 VARCHAR,                   -- the document (raw_file keeps it)
            query_id VARCHAR,
            skus INTEGER NOT NULL,
            bad_lines INTEGER NOT NULL,       -- lines that could not be read: skipped
            stored_at TIMESTAMP NOT NULL,
            PRIMARY KEY (account, marketplace, fetched_for)
        );
        -- Its amounts: one per SKU and fee type Amazon gave (aged, low_inventory,
        -- utilization), summed over the SKU's charges.
        CREATE TABLE amazon_forecast_fee (
            account VARCHAR NOT NULL,
            marketplace VARCHAR NOT NULL,
            fetched_for DATE NOT NULL,
            sku VARCHAR NOT NULL,
            fee_type VARCHAR NOT NULL,
            amount DOUBLE NOT NULL,
            PRIMARY KEY (account, marketplace, fetched_for, sku, fee_type)
        );
        -- Every fetch and how it ended (ok, no_data, fatal, cancelled, missing, error):
        -- once a day, and status. ``reason`` is ipi's one line, never Amazon's document.
        CREATE TABLE amazon_forecast_fetch (
            account VARCHAR NOT NULL,
            marketplace VARCHAR NOT NULL,
            fetched_for DATE NOT NULL,
            attempted_at TIMESTAMP NOT NULL,
            outcome VARCHAR NOT NULL,
            query_id VARCHAR,
            sha256 VARCHAR,                   -- a document kept (data, or a FATAL's error)
            reason VARCHAR,
            PRIMARY KEY (account, marketplace, attempted_at)
        );
        """,
    ),
]
