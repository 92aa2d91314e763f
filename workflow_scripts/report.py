"""Snakemake script of rule `report`: tables, heatmaps and clip statuses (avemotion.report.build_report)."""

from avemotion.logs import log_to_file
from avemotion.report import ReportInputs, ReportOutputs, build_report

log_to_file(snakemake.log[0])
build_report(ReportInputs.from_snakemake(snakemake), ReportOutputs.from_snakemake(snakemake))
