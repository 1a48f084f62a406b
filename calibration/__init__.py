"""The calibration population: many small models trained here, the values every claim's metric
takes on each, and the thresholds placed on them (issue 16). See calibration/README.md."""
