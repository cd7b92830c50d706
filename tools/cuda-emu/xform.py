import re, sys
src = open(sys.argv[1]).read()
pat = re.compile(r'([A-Za-z_][\w:]*(?:<[^<>()]*>)?)\s*<<<(.*?)>>>', re.S)
out = pat.sub(lambda m: 'EMU_LAUNCH((%s), %s)' % (m.group(1), m.group(2)), src)
open(sys.argv[2], 'w').write(out)
