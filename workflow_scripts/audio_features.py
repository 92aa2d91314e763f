"""Snakemake script of rule audio_features: one shard's IS10 functionals (paper 2.2), short-term
sequences (2.3) and 34x34 audio maps (2.4) (avemotion.audio.write_audio_shard)."""
from avemotion.audio import write_audio_shard
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
write_audio_shard(snakemake.params.clips, snakemake.input.media, snakemake.output, snakemake.params.audio)
