// Production defaults (gzip on); no telemetry, no header advertising the stack.
module.exports = { poweredByHeader: false };
