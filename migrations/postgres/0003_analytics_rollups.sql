-- Rollups the Analytics page reads; their size does not grow with the number
-- of events, and only with the number of agents where the page lists agents.

-- Per tenant and quarter hour: every time zone's day and hour boundaries fall
-- on a quarter hour, so the trend and the heatmap bucket exactly in any zone.
CREATE TABLE usage_tenant_quarter (
    tenant_id     TEXT NOT NULL,
    slot          BIGINT NOT NULL,
    tokens_issued BIGINT NOT NULL DEFAULT 0,
    api_calls     BIGINT NOT NULL DEFAULT 0,
    refused       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, slot)
);

-- Per agent and calendar day / month in the tenant's time zone at the time of
-- use ('YYYY-MM-DD' / 'YYYY-MM' sort as dates): active agents of a range, and
-- the per-agent table of the month.
-- Keyed by agent first: "was this agent active in the range" is one index
-- probe per agent, however many days or events the range holds.
CREATE TABLE usage_agent_day (
    tenant_id     TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    local_date    TEXT NOT NULL,
    tokens_issued BIGINT NOT NULL DEFAULT 0,
    api_calls     BIGINT NOT NULL DEFAULT 0,
    refused       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, agent_id, local_date)
);

CREATE TABLE usage_agent_month (
    tenant_id     TEXT NOT NULL,
    month         TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    tokens_issued BIGINT NOT NULL DEFAULT 0,
    api_calls     BIGINT NOT NULL DEFAULT 0,
    refused       BIGINT NOT NULL DEFAULT 0,
    last_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, month, agent_id)
);

-- Existing hourly counts carry over (every tenant was still on UTC); the
-- hourly table had no reader left.
INSERT INTO usage_tenant_quarter (tenant_id, slot, tokens_issued, api_calls, refused)
SELECT tenant_id, hour, SUM(tokens_issued), SUM(api_calls), SUM(refused)
FROM usage_hourly GROUP BY tenant_id, hour;

INSERT INTO usage_agent_day (tenant_id, local_date, agent_id, tokens_issued, api_calls, refused)
SELECT tenant_id, to_char(to_timestamp(hour) AT TIME ZONE 'UTC', 'YYYY-MM-DD'), agent_id,
       SUM(tokens_issued), SUM(api_calls), SUM(refused)
FROM usage_hourly GROUP BY 1, 2, 3;

INSERT INTO usage_agent_month (tenant_id, month, agent_id, tokens_issued, api_calls, refused, last_at)
SELECT tenant_id, to_char(to_timestamp(hour) AT TIME ZONE 'UTC', 'YYYY-MM'), agent_id,
       SUM(tokens_issued), SUM(api_calls), SUM(refused), MAX(hour)
FROM usage_hourly GROUP BY 1, 2, 3;

DROP TABLE usage_hourly;
