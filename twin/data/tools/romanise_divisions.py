#!/usr/bin/env python3
# Adds the name_en column of twin/data/baoan/divisions.csv: Hanyu Pinyin without tones from
# pypinyin 0.55.0 (PyPI, MIT), with the suffixes 社区居委会/街道/区 as Community/Subdistrict/District
# and two characters read as Cantonese place names read them. Run from the project's root:
# pip install pypinyin==0.55.0 && python3 twin/data/tools/romanise_divisions.py
import csv
from pypinyin import lazy_pinyin, Style
path = 'twin/data/baoan/divisions.csv'
rows = list(csv.DictReader(open(path, encoding='utf-8')))
seeds = {r['code']: r['name_en'] for r in csv.DictReader(open('twin/data/baoan/street_seeds.csv', encoding='utf-8'))}
# Cantonese place names read these characters otherwise than Mandarin words do (大涌 Dachong).
PLACE_READINGS = {'涌': 'chong', '厦': 'xia'}
def roman(name):
    out = ''
    syllables = [PLACE_READINGS.get(c, s) for c, s in zip(name, lazy_pinyin(name, style=Style.NORMAL))]
    for i, s in enumerate(syllables):
        if i and s[0] in 'aoe':
            out += "'"
        out += s
    return out[0].upper() + out[1:]
FIXED = {'440306400': "Shenzhen Bao'an International Airport",
         '440306400498': "Shenzhen Bao'an International Airport (virtual community)"}
def en(r):
    n = r['name']
    if r['code'] in FIXED: return FIXED[r['code']]
    if r['level'] == 'street' and r['code'] in seeds:
        return seeds[r['code']] + ' Subdistrict'
    for suf, word in [('社区居委会', ' Community'), ('社区居委', ' Community'), ('街道', ' Subdistrict'), ('区', ' District')]:
        if n.endswith(suf) and len(n) > len(suf):
            return roman(n[:-len(suf)]) + word
    return roman(n)
with open(path, 'w', encoding='utf-8', newline='') as f:
    w = csv.writer(f, lineterminator='\n')
    w.writerow(['code', 'name', 'name_en', 'level', 'parent_code'])
    for r in rows:
        w.writerow([r['code'], r['name'], en(r), r['level'], r['parent_code']])
