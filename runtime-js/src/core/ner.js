/**
 * Token classification as small pure functions: raw text -> windows of token ids -> entity spans.
 * The JavaScript side of edgeft_runtime/ner.py (same windows, same merging, same decoding).
 */

import { softmax } from './ops.js';

export const AGGREGATIONS = ['first', 'average', 'max'];

// Python's str.isspace() characters (JavaScript's \s differs: it has U+FEFF, lacks U+001C-U+001F, U+0085).
const SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/**
 * Word index of each token when words are maximal runs of non-whitespace characters, as the
 * Python runtime's ``whitespace_words``: a token belongs to the run of the first non-whitespace
 * character at or after its start, so "U.S." is one word however the tokenizer splits it.
 */
export function whitespaceWords(text, offsets) {
  const n = offsets.length;
  if (n === 0 || !text) return new Array(n).fill(0);
  const runOfChar = new Array(text.length);
  const solid = [];
  let run = -1;
  for (let i = 0; i < text.length; i++) {
    const space = SPACE.test(text[i]);
    if (!space && (i === 0 || SPACE.test(text[i - 1]))) run++;
    runOfChar[i] = run;
    if (!space) solid.push(i);
  }
  if (!solid.length) return new Array(n).fill(0);
  const words = [];
  let last = -Infinity;
  let word = -1;
  for (const [start] of offsets) {
    const at = Math.min(Math.max(start, 0), text.length - 1);
    let lo = 0;
    let hi = solid.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (solid[mid] < at) lo = mid + 1;
      else hi = mid;
    }
    const r = Math.max(last, runOfChar[solid[Math.min(lo, solid.length - 1)]]);
    if (r !== last) word++;
    words.push(word);
    last = r;
  }
  return words;
}

/**
 * How tokens are grouped into the words that get one tag each, by the manifest's ner.word_split
 * (absent: "tokenizer"). "tokenizer": the tokenizer's own words (its pre-tokenizer splits:
 * whitespace, punctuation, one word per CJK character). "whitespace": maximal runs of
 * non-whitespace characters. Each entry maps (content tokens, text) to a word index per token.
 */
export const WORD_SPLITS = {
  tokenizer: (tokens) => tokens.words,
  whitespace: (tokens, text) => whitespaceWords(text, tokens.offsets),
};

/** Token ranges [start, end) covering n tokens with windows of ``size`` that overlap by ``stride``. */
export function windowBounds(n, size, stride) {
  if (size < 1) throw new RangeError(`window size must be >= 1, got ${size}`);
  if (!(stride >= 0 && stride < size)) throw new RangeError(`stride must be in [0, ${size}) for windows of ${size} tokens, got ${stride}`);
  if (n <= size) return [[0, n]];
  const step = size - stride;
  const bounds = [];
  for (let start = 0; ; start += step) {
    const end = Math.min(start + size, n);
    bounds.push([start, end]);
    if (end === n) return bounds;
  }
}

/** Model inputs for every text: one window each, or several overlapping ones for long texts. */
export function windows(tokens, specials, maxLength, stride) {
  const size = maxLength - specials.count;
  const out = [];
  tokens.forEach((tok, t) => {
    for (const [start, end] of windowBounds(tok.ids.length, size, stride)) {
      out.push({
        text: t,
        start,
        end,
        ids: [...specials.prefixIds, ...tok.ids.slice(start, end), ...specials.suffixIds],
        typeIds: [...specials.prefixTypes, ...tok.typeIds.slice(start, end), ...specials.suffixTypes],
      });
    }
  });
  return out;
}

/** For each of n tokens, the window in which it is most central (the earlier window on ties). */
export function centralOwner(bounds, n) {
  const owner = new Array(n).fill(0);
  const best = new Array(n).fill(-1);
  bounds.forEach(([start, end], w) => {
    for (let i = start; i < end; i++) {
      const margin = Math.min(i - start, end - 1 - i);
      if (margin > best[i]) {
        owner[i] = w;
        best[i] = margin;
      }
    }
  });
  return owner;
}

/**
 * Per-token logits of one text (an array of Float32Array rows) from its windows' outputs;
 * windowOutputs[w] is {data, dims: [tokens, labels]} with the content after ``prefix`` specials.
 */
export function mergeWindows(windowOutputs, bounds, n, prefix) {
  const owner = centralOwner(bounds, n);
  const out = new Array(n);
  bounds.forEach(([start, end], w) => {
    const { data, dims } = windowOutputs[w];
    const width = dims[dims.length - 1];
    for (let i = start; i < end; i++) {
      if (owner[i] === w) out[i] = data.subarray((prefix + i - start) * width, (prefix + i - start + 1) * width);
    }
  });
  return out;
}

/** Index of the first token of each word. */
export function wordStarts(words) {
  const starts = [];
  words.forEach((w, i) => {
    if (i === 0 || w !== words[i - 1]) starts.push(i);
  });
  return starts;
}

/**
 * Per-word label probabilities from per-token logits. first: the word's first sub-token (as
 * trained by default); average: the mean of its sub-tokens' probabilities; max: the probabilities
 * of its most confident sub-token.
 */
export function wordScores(tokenLogits, words, aggregation = 'first') {
  if (!AGGREGATIONS.includes(aggregation)) throw new RangeError(`aggregation must be one of ${AGGREGATIONS.join(', ')}, got ${JSON.stringify(aggregation)}`);
  const starts = wordStarts(words);
  const ends = [...starts.slice(1), words.length];
  if (aggregation === 'first') return starts.map((s) => softmax(tokenLogits[s]));
  const probs = tokenLogits.map((row) => softmax(row));
  return starts.map((s, k) => {
    if (aggregation === 'average') {
      const sum = new Array(probs[s].length).fill(0);
      for (let i = s; i < ends[k]; i++) probs[i].forEach((p, j) => (sum[j] += p));
      return sum.map((x) => x / (ends[k] - s));
    }
    let pick = s;
    for (let i = s + 1; i < ends[k]; i++) if (Math.max(...probs[i]) > Math.max(...probs[pick])) pick = i;
    return probs[pick];
  });
}

/** Character range of each word: its first token's start to its last token's end. */
export function wordOffsets(offsets, words) {
  const starts = wordStarts(words);
  const ends = [...starts.slice(1), words.length].map((e) => e - 1);
  return starts.map((s, k) => [offsets[s][0], offsets[ends[k]][1]]);
}

function splitTag(tag) {
  const rest = tag.slice(1).split('-');
  const type = rest.length > 1 ? rest.slice(1).join('-') : rest[0];
  return [tag[0], type || '_'];
}

function endOfChunk(prevTag, tag, prevType, type) {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if ((prevTag === 'B' || prevTag === 'I') && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  return prevTag !== 'O' && prevTag !== '.' && prevType !== type;
}

function startOfChunk(prevTag, tag, prevType, type) {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  return tag !== 'O' && tag !== '.' && prevType !== type;
}

/**
 * Entities of one tag sequence as [type, first, last] (inclusive), chunked as seqeval's default
 * mode does (edgeft_runtime.metrics.tag_entities).
 */
export function tagEntities(tags) {
  const chunks = [];
  let prevTag = 'O';
  let prevType = '';
  let begin = 0;
  [...tags, 'O'].forEach((chunk, i) => {
    const [tag, type] = splitTag(chunk);
    if (endOfChunk(prevTag, tag, prevType, type)) chunks.push([prevType, begin, i - 1]);
    if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  });
  return chunks;
}

/** IOB2 word tags -> entities {entity, text, start, end, score}; text === input.slice(start, end). */
export function decodeEntities(text, tags, offsets, scores = null) {
  return tagEntities(tags).map(([type, first, last]) => {
    const start = offsets[first][0];
    const end = offsets[last][1];
    const entity = { entity: type, text: text.slice(start, end), start, end };
    if (scores) {
      let sum = 0;
      for (let i = first; i <= last; i++) sum += scores[i];
      entity.score = sum / (last - first + 1);
    }
    return entity;
  });
}

/** One text's entities from its merged per-token logits. */
export function tagText(text, tokens, words, tokenLogits, labels, aggregation = 'first') {
  const probs = wordScores(tokenLogits, words, aggregation);
  const tags = probs.map((row) => labels[row.indexOf(Math.max(...row))]);
  return decodeEntities(text, tags, wordOffsets(tokens.offsets, words), probs.map((row) => Math.max(...row)));
}
