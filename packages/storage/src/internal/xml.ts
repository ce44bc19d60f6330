import { S3Error } from './s3-error.js';

/** Just enough XML for S3: a builder for responses and a strict little parser for the two request bodies we read. */

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function esc(s: string): string {
  // eslint-disable-next-line no-control-regex -- XML 1.0 cannot carry these control characters: matching them is the point
  return s.replace(/[&<>"'\r]|[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#${c.charCodeAt(0)};`;
    }
  });
}

export type XmlValue = string | number | boolean | undefined | XmlNode | XmlValue[];
export interface XmlNode {
  readonly [name: string]: XmlValue;
}

/** `{ A: 'x', B: [{ C: 1 }, { C: 2 }] }` → `<A>x</A><B><C>1</C></B><B><C>2</C></B>`; undefined is left out. */
export function toXml(node: XmlNode): string {
  let out = '';
  for (const [name, v] of Object.entries(node)) out += element(name, v);
  return out;
}

function element(name: string, v: XmlValue): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.map((x) => element(name, x)).join('');
  if (typeof v === 'object') return `<${name}>${toXml(v)}</${name}>`;
  return `<${name}>${esc(String(v))}</${name}>`;
}

export function xmlDocument(root: string, body: XmlNode, withNs = true): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${withNs ? ` xmlns="${S3_NS}"` : ''}>${toXml(body)}</${root}>`;
}

export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  text: string;
}

function malformed(): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(s: string): string {
  if (!s.includes('&')) return s;
  if (/&(?!(#x[0-9a-fA-F]{1,6}|#\d{1,7}|[a-z]{2,4});)/.test(s)) throw malformed();
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|[a-z]{2,4});/g, (_m: string, e: string) => {
    if (e.startsWith('#')) {
      const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      if (!(cp >= 0 && cp <= 0x10ffff)) throw malformed();
      return String.fromCodePoint(cp);
    }
    const r = ENTITIES[e];
    if (r === undefined) throw malformed();
    return r;
  });
}

/** Parses element-only XML (attributes are read past, namespace prefixes dropped); any defect is MalformedXML. */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const n = src.length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const skipWs = (): void => {
    while (i < n && /\s/.test(src[i] as string)) i++;
  };
  if (src.charCodeAt(0) === 0xfeff) i = 1;
  skipWs();
  if (src.startsWith('<?xml', i)) {
    const end = src.indexOf('?>', i);
    if (end < 0) throw malformed();
    i = end + 2;
  }
  while (i < n) {
    const lt = src.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const text = src.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeText(text);
      else if (text.trim() !== '') throw malformed();
    }
    if (lt < 0) break;
    i = lt;
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) throw malformed();
      i = end + 3;
      continue;
    }
    if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i + 9);
      const top = stack[stack.length - 1];
      if (end < 0 || !top) throw malformed();
      top.text += src.slice(i + 9, end);
      i = end + 3;
      continue;
    }
    if (src.startsWith('<?', i) || src.startsWith('<!', i)) throw malformed();
    const gt = src.indexOf('>', i);
    if (gt < 0) throw malformed();
    const inner = src.slice(i + 1, gt);
    i = gt + 1;
    if (inner.startsWith('/')) {
      const name = localName(inner.slice(1).trim());
      const top = stack.pop();
      if (!top || top.name !== name) throw malformed();
      if (stack.length === 0) root = top;
      continue;
    }
    const selfClosing = inner.endsWith('/');
    const m = /^([A-Za-z_][\w.:-]*)(\s[^]*)?$/.exec(selfClosing ? inner.slice(0, -1) : inner);
    if (!m) throw malformed();
    if (m[2] && !/^(\s+[A-Za-z_][\w.:-]*\s*=\s*("[^"<]*"|'[^'<]*'))*\s*$/.test(m[2])) throw malformed();
    const el: XmlElement = { name: localName(m[1] as string), children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) throw malformed();
    if (selfClosing) {
      if (!parent) root = el;
    } else stack.push(el);
  }
  if (stack.length || !root) throw malformed();
  return root;
}

function localName(q: string): string {
  const c = q.indexOf(':');
  return c >= 0 ? q.slice(c + 1) : q;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}
