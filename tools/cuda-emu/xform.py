import re, sys
src = open(sys.argv[1]).read()
pat = re.compile(r'([A-Za-z_][\w:]*(?:<[^<>()]*>)?)\s*<<<(.*?)>>>', re.S)
out = pat.sub(lambda m: 'EMU_LAUNCH((%s), %s)' % (m.group(1), m.group(2)), src)
# extern __shared__ arrays (dynamic shared memory) become the launch's per-block buffer.
dyn = re.compile(r'extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w ]+?)\s+(\w+)\s*\[\s*\]\s*;')
out = dyn.sub(lambda m: '%s *%s = (%s *)emu::dyn_smem();' % (m.group(1), m.group(2), m.group(1)), out)
open(sys.argv[2], 'w').write(out)
