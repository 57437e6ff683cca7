"""Detection quality: SKAB, NAB, planted anomalies, streaming."""
