import { describe, expect, it } from 'vitest';
import { resolveLinks } from '../../functions/core/parse/links.js';
import { parsePage } from '../../functions/core/parse/parse-page.js';
import { robotsSayNofollow, scanHtml } from '../../functions/core/parse/streaming-pass.js';
import { scanTree } from '../../functions/core/parse/tree-builder.js';

const URL_OF_PAGE = 'https://example.com/dir/page.html';
const LINKS = '<a href="/a">a</a><a href="b">b</a>';

/** Both parsing paths, each on its own (the streaming pass only where it keeps the page). */
async function nofollowOf(html: string): Promise<{ stream: boolean | 'tree'; tree: boolean }> {
  const scanned = await scanHtml(html);
  return { stream: 'needsTreeBuilder' in scanned ? 'tree' : scanned.nofollow, tree: (await scanTree(html)).nofollow };
}

describe('<meta name=robots>: nofollow and none keep a page\'s links from being followed', () => {
  it.each([
    ['<meta name="robots" content="nofollow">', true],
    ['<meta name="robots" content="none">', true],
    ['<meta name=ROBOTS content="NoIndex, NOFOLLOW">', true],
    ['<meta name="Robots" content=" index ,\tnofollow\n">', true],
    ['<meta content="nofollow" name="robots">', true],
    ['<meta name="robots" content="noindex">', false],
    ['<meta name="robots" content="follow">', false],
    ['<meta name="robots" content="nofollow-ish, nonefollow">', false],
    // Directives are comma-separated: a space does not separate them.
    ['<meta name="robots" content="noindex nofollow">', false],
    ['<meta name="robots">', false],
    ['<meta name="robots " content="nofollow">', false],
    ['<meta name="googlebot" content="nofollow">', false],
    ['<meta property="robots" content="nofollow">', false],
    ['<meta http-equiv="robots" content="nofollow">', false],
    // Any robots meta of the document counts, in the body too, after a first one that allows following.
    ['<meta name="robots" content="index"><body><p><meta name="robots" content="nofollow">', true],
    // Not part of the document: <template> content, a comment, script text.
    ['<template><meta name="robots" content="nofollow"></template>', false],
    ['<!-- <meta name="robots" content="nofollow"> -->', false],
    ['<script>"<meta name=robots content=nofollow>"</script>', false],
    // <noscript> is markup with scripting off; <meta> inside SVG still counts (a browser hoists it out).
    ['<noscript><meta name="robots" content="nofollow"></noscript>', true],
    ['<svg><meta name="robots" content="nofollow"></svg>', true],
    ['<meta name="robots" content="&#110;ofollow">', true],
  ])('%s → %s', async (head, want) => {
    const html = `<!doctype html><html><head>${head}</head><body>${LINKS}</body></html>`;
    const got = await nofollowOf(html);
    expect(got.tree).toBe(want);
    if (got.stream !== 'tree') expect(got.stream).toBe(want);
    const page = await parsePage(html, URL_OF_PAGE);
    // `links` still counts the a[href] elements; only following them stops.
    expect(page.fields.links).toBe(2);
    expect(resolveLinks(page.pageLinks, URL_OF_PAGE)).toEqual(want ? [] : ['https://example.com/a', 'https://example.com/dir/b']);
  });

  it('is read on the tree builder\'s path too (a page the streaming pass hands over)', async () => {
    const html = '<meta name=robots content=nofollow><p><a href=/x><div>misnested</div></p><a href=/y>y</a>';
    const page = await parsePage(html, URL_OF_PAGE);
    expect(page.parser).toBe('tree');
    expect(page.pageLinks.nofollow).toBe(true);
    expect(resolveLinks(page.pageLinks, URL_OF_PAGE)).toEqual([]);
  });

  it('reads content as comma-separated, ASCII-case-insensitive directives', () => {
    expect(robotsSayNofollow('NONE')).toBe(true);
    expect(robotsSayNofollow(',,nofollow,')).toBe(true);
    expect(robotsSayNofollow('max-snippet:-1, nofollow')).toBe(true);
    expect(robotsSayNofollow('')).toBe(false);
    expect(robotsSayNofollow('nofollow\u00a0')).toBe(false);
  });
});
