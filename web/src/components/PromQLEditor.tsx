// The PromQL editor: CodeMirror 6 with Prometheus' own PromQL language package
// (@prometheus-io/codemirror-promql), which highlights the syntax, lints with the real grammar
// and completes metric names, label names and values (through our /api/v1 endpoints) and
// functions. Enter runs the query; Shift+Enter inserts a newline.

import { useEffect, useRef } from "preact/hooks";
import { EditorView, keymap, placeholder as cmPlaceholder } from "@codemirror/view";
import { EditorState, Prec } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, insertNewline } from "@codemirror/commands";
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap, completionStatus } from "@codemirror/autocomplete";
import { HighlightStyle, bracketMatching, syntaxHighlighting } from "@codemirror/language";
import { lintKeymap } from "@codemirror/lint";
import { tags } from "@lezer/highlight";
import { PromQLExtension } from "@prometheus-io/codemirror-promql";

const highlight = HighlightStyle.define([
  { tag: tags.keyword, color: "var(--code-keyword)" },
  { tag: tags.function(tags.variableName), color: "var(--code-function)" },
  { tag: tags.labelName, color: "var(--code-label)" },
  { tag: tags.string, color: "var(--code-string)" },
  { tag: tags.number, color: "var(--code-number)" },
  { tag: tags.comment, color: "var(--code-comment)", fontStyle: "italic" },
  { tag: tags.operator, color: "var(--code-keyword)" },
  { tag: tags.modifier, color: "var(--code-keyword)" },
  { tag: tags.invalid, color: "var(--error-text)" },
]);

export function PromQLEditor(props: { value: string; onChange: (v: string) => void; onRun: (v: string) => void; placeholder?: string; autoFocus?: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latest = useRef(props);
  latest.current = props;


  useEffect(() => {
    const promql = new PromQLExtension().setComplete({ remote: { url: window.location.origin, httpMethod: "GET" } });
    const runKeys = Prec.highest(
      keymap.of([
        // With the completion list open, Enter accepts the completion (the next keymap).
        { key: "Enter", run: (view) => (completionStatus(view.state) === "active" ? false : (latest.current.onRun(view.state.doc.toString()), true)) },
        { key: "Shift-Enter", run: insertNewline },
      ]),
    );
    const state = EditorState.create({
      doc: props.value,
      extensions: [
        history(),
        bracketMatching(),
        closeBrackets(),
        autocompletion({ activateOnTyping: true, maxRenderedOptions: 100 }),
        syntaxHighlighting(highlight),
        promql.asExtension(),
        runKeys,
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
        cmPlaceholder(props.placeholder ?? "Enter a PromQL expression (Shift+Enter for a new line)"),
        EditorView.lineWrapping,
        EditorView.updateListener.of((u) => {
          if (u.docChanged) latest.current.onChange(u.state.doc.toString());
        }),
        EditorView.contentAttributes.of({ "aria-label": "PromQL expression", "data-testid": "promql-input" }),
      ],
    });
    view.current = new EditorView({ state, parent: host.current! });
    if (props.autoFocus) view.current.focus();
    return () => view.current?.destroy();
  }, []);

  // `value` is the expression from outside (the URL): it changes when a query runs or on history
  // navigation, never while typing, so following it cannot fight the user's keystrokes.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== props.value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value } });
    }
  }, [props.value]);

  return <div class="editor" ref={host} />;
}
