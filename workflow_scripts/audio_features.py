"""Snakemake script of rule audio_features: one shard's IS10 functionals (paper 2.2), short-term
sequences (2.3) and 34x34 audio maps (2.4) (avemotion.audio.write_audio_shard)."""
from avemotion.audio import write_audio_shard
from avemotion.logs import log_to_file

log_to_file(snakemake.log[0])
output = snakemake.output
write_audio_shard(snakemake.params.clips, snakemake.params.media,
                  {"is10": output.is10, "shortterm": output.shortterm, "maps": output.maps},
                  snakemake.params.audio, output.table)
