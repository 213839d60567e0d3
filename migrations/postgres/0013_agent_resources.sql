-- The resources (RFC 8707) an agent may ask tokens for: absolute URIs,
-- space-separated, compared exactly as written. Empty: only the portal's
-- default audience.
ALTER TABLE agents ADD COLUMN resources TEXT NOT NULL DEFAULT '';
