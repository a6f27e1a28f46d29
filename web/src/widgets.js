// Small DOM pieces the sergeant's and the replay page share.

// The map legend: headed groups of colour swatches.
//   fillLegend(box, [['Target', [[fill, 'met'], ...]], ['No target: presence', [...]]])
export function fillLegend(box, groups) {
  const entry = (fill, text) => {
    const d = document.createElement('div');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = fill;
    d.append(sw, document.createTextNode(text));
    return d;
  };
  box.replaceChildren(...groups.flatMap(([title, entries]) => {
    const h = document.createElement('h3');
    h.textContent = title;
    return [h, ...entries.map(([fill, text]) => entry(fill, text))];
  }));
}

// Replaces a select's options with [[value, text], ...]; keeps the selected
// value when it is still offered, else selects `fallback` (default: the first).
export function fillSelect(select, choices, fallback) {
  const keep = select.value;
  select.replaceChildren(...choices.map(([value, text]) => {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    return o;
  }));
  select.value = choices.some(([v]) => v === keep) ? keep : fallback ?? (choices[0] ? choices[0][0] : '');
}
