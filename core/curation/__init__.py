"""From model back to catalog: predictions for catalog images, out-of-sample scores, suspected label errors and
near duplicates."""
