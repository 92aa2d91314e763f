"""Snakemake script of rule `bundle`: the trained network as one file (avemotion.bundle.write_bundle)."""

from avemotion.bundle import BundleInputs, write_bundle_of_run
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
write_bundle_of_run(BundleInputs.from_snakemake(snakemake), snakemake.output.bundle)
