from avemotion.logs import log_to_file
from avemotion.media import audio_source, extract_audio, write_timeline

log_to_file(snakemake.log[0])
write_timeline(snakemake.output.timeline, snakemake.wildcards.clip, snakemake.params.clip,
               timeline_fps=snakemake.params.media["timeline_fps"])
# the clip's own audio, or its paired audio file (manifest audio_path; an input of the rule too)
extract_audio(audio_source(snakemake.params.clip), snakemake.output.wav, snakemake.params.media["audio_sample_rate"],
              has_audio=snakemake.params.clip["has_audio"] == "true")
