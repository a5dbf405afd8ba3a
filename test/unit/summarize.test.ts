import { describe, expect, it } from 'vitest';
import { summarize } from '../../functions/core/summarize.js';

const fields = (html: string) => summarize(html, 'https://example.com/dir/page.html').fields;

describe('summarize: the Summary fields as a browser computes them', () => {
  it('title is the first <title>, ASCII whitespace collapsed and trimmed', () => {
    expect(fields('<title>\n  Hello \t  world\n</title><title>second</title>').title).toBe('Hello world');
    expect(fields('<p>no title</p>').title).toBe('');
    // A non-breaking space is not ASCII whitespace.
    expect(fields('<title>a\u00a0 b</title>').title).toBe('a\u00a0 b');
  });

  it('lang is the <html> attribute as written, or null', () => {
    expect(fields('<html lang="en-US"><title>x</title></html>').lang).toBe('en-US');
    expect(fields('<html><title>x</title></html>').lang).toBeNull();
    expect(fields('<html lang=""><p>x</html>').lang).toBe('');
  });

  it('description is the first meta named description, case-insensitively, trimmed', () => {
    expect(fields('<meta name="Description" content="  first  "><meta name="description" content="second">').description).toBe('first');
    expect(fields('<meta name="description">').description).toBe('');
    expect(fields('<meta property="og:description" content="x">').description).toBeNull();
  });

  it('canonical is the first link rel=canonical href, as written and trimmed', () => {
    expect(fields('<link rel="canonical" href=" /a?b=1 "><link rel="canonical" href="/second">').canonical).toBe('/a?b=1');
    expect(fields('<link rel="stylesheet" href="/s.css">').canonical).toBeNull();
  });

  it('counts h1, a[href] and img', () => {
    const f = fields('<h1>a</h1><div><h1>b</h1></div><a href="/x">x</a><a name="anchor">y</a><a href="">z</a><img src=a><img>');
    expect(f).toMatchObject({ h1: 2, links: 2, images: 2 });
  });

  it('reads <noscript> content as markup, as a browser with scripting off does', () => {
    expect(fields('<body><noscript><img src="pixel.gif"><a href="/nojs">x</a></noscript></body>')).toMatchObject({ images: 1, links: 1 });
  });
});

describe('summarize: outlinks', () => {
  it('resolves links against the document URL and <base>, drops fragments and non-http schemes', () => {
    const { outlinks } = summarize(
      '<a href="next.html#top">a</a><a href="/root">b</a><a href="mailto:x@y">c</a><a href="https://other.example/">d</a><a href="next.html">dup</a>',
      'https://example.com/dir/page.html',
    );
    expect(outlinks).toEqual(['https://example.com/dir/next.html', 'https://example.com/root', 'https://other.example/']);
    const withBase = summarize('<base href="https://cdn.example/base/"><a href="x">x</a>', 'https://example.com/');
    expect(withBase.outlinks).toEqual(['https://cdn.example/base/x']);
  });
});
