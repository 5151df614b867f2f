#!/usr/bin/python3
"""Medians and ratios of measure.sh results: medians.py RESULTS..."""
import statistics, collections, sys
for path in sys.argv[1:]:
    d=collections.defaultdict(list)
    for line in open(path):
        ph, rep, side, *kv = line.split()
        kv=dict(x.split('=') for x in kv)
        d[(ph,side)].append(float(kv['per_second']))
    print(path)
    for ph in ('pinned','unpinned'):
        m={s: statistics.median(d[(ph,s)]) for s in ('kernel','stack','floor','floor_epoll','floor_uring','lwip') if d[(ph,s)]}
        print(' ', ph, ' '.join(f"{k}={v/1000:.1f}k" for k,v in m.items()))
        print('    floor/kernel %.2f  floor_epoll/kernel %.2f  stack/floor %.2f  stack/floor_epoll %.2f  lwip/floor %.2f  stack/kernel %.2f  stack/lwip %.2f' % (
            m['floor']/m['kernel'], m['floor_epoll']/m['kernel'], m['stack']/m['floor'], m['stack']/m['floor_epoll'], m['lwip']/m['floor'], m['stack']/m['kernel'], m['stack']/m['lwip']))
        if 'floor_uring' in m: print('    floor_uring/kernel %.2f  floor_uring/floor %.2f' % (m['floor_uring']/m['kernel'], m['floor_uring']/m['floor']))
        print('    targets need: 1.5x kernel = %.1fk (%.2fx floor), 1.25x lwip = %.1fk (%.2fx floor)' % (1.5*m['kernel']/1000, 1.5*m['kernel']/m['floor'], 1.25*m['lwip']/1000, 1.25*m['lwip']/m['floor']))
