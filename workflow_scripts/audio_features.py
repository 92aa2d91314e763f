"""Snakemake script of rule audio_features: one clip's IS10 functionals (paper 2.2), short-term
sequence (2.3) and 34x34 audio maps (2.4)."""
from avemotion.audio import AudioChecks, MapSettings, ShortTermSettings, write_is10_artifact, write_maps_artifact, write_shortterm_artifact
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
clip, output = snakemake.wildcards.clip, snakemake.output
checks = AudioChecks.from_config(snakemake.params.checks)
write_is10_artifact(snakemake.input.wav, output.is10, clip, checks)
write_shortterm_artifact(snakemake.input.wav, output.shortterm, clip, checks,
                         ShortTermSettings.from_config(snakemake.params.shortterm))
write_maps_artifact(output.shortterm, output.maps, clip, MapSettings.from_config(snakemake.params.maps))
