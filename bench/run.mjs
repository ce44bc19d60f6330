#!/usr/bin/env node
// Runs every bench/*.bench.mjs (each measures a figure beside its baseline in the same run) and writes
// docs/benchmarks.md with the figures, the ratios, the machine and the date.
// A bench module exports `title` and `async run()` returning rows:
//   { metric, value, unit, baseline?: { name, value }, target?: string, note?: string }
// `npm run bench -- storage` runs only the modules whose file name contains "storage".
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { execSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const dir = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.mjs') && (!only || f.includes(only))).sort();
const sections = [];
for (const f of files) {
  const mod = await import(pathToFileURL(path.join(dir, f)).href);
  console.log(`== ${mod.title} (${f})`);
  const started = Date.now();
  const rows = await mod.run();
  for (const r of rows) console.log(`  ${r.metric}: ${fmt(r.value)} ${r.unit}${r.baseline ? `  (baseline ${r.baseline.name}: ${fmt(r.baseline.value)})` : ''}`);
  sections.push({ title: mod.title, file: f, rows, seconds: (Date.now() - started) / 1000 });
}

function fmt(v) {
  return typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : String(v);
}
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
let disk = '';
try {
  disk = execSync('df -h / | tail -1', { encoding: 'utf8' }).trim();
} catch {}
const lines = [
  '# Benchmarks',
  '',
  `Written by \`npm run bench\` on ${new Date().toISOString()}.`,
  '',
  `Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}. Disk: \`${disk}\`.`,
  '',
  'Each figure is measured beside its baseline in the same run. Benchmarks are not tests: nothing here fails a build.',
  '',
];
function renderSection(s) {
  const out = [`## ${s.title}`, '', `\`bench/${s.file}\`, ${s.seconds.toFixed(1)} s.`, ''];
  out.push('| metric | Hearth | baseline | ratio | target |', '|---|---|---|---|---|');
  for (const r of s.rows) {
    const base = r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : '';
    const ratio = r.baseline && r.baseline.value ? `${(r.value / r.baseline.value).toFixed(2)}×` : '';
    out.push(`| ${r.metric} | ${fmt(r.value)} ${r.unit} | ${base} | ${ratio} | ${r.target ?? ''} |`);
  }
  const notes = s.rows.filter((r) => r.note).map((r) => `- ${r.metric}: ${r.note}`);
  if (notes.length) out.push('', ...notes);
  out.push('');
  return out;
}
for (const s of sections) lines.push(...renderSection(s));
const target = path.join(dir, '..', 'docs', 'benchmarks.md');
if (!only || !existsSync(target)) {
  writeFileSync(target, lines.join('\n'));
} else {
  // A partial run replaces only its own sections, keeping the others (and their dates) as they were.
  const text = readFileSync(target, 'utf8');
  const parts = text.split(/\n(?=## )/);
  for (const s of sections) {
    const fresh = renderSection(s).join('\n');
    const at = parts.findIndex((p) => p.startsWith(`## ${s.title}\n`));
    const dated = `${fresh}\n_This section was measured on ${new Date().toISOString()} by \`npm run bench -- ${only}\`._\n`;
    if (at >= 0) parts[at] = dated;
    else parts.push(dated);
  }
  writeFileSync(target, parts.join('\n'));
  console.log(`(partial run: its sections of docs/benchmarks.md rewritten)`);
}
