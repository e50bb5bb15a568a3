import { describe, expect, it } from "vitest";
import { renderMarkdown, sanitizeHtml } from "../src/lib/markdown";

describe("markdown", () => {
  it("renders headings, lists, emphasis and links, escaping HTML", () => {
    expect(renderMarkdown("# Title\n\nSome **bold** and <b>raw</b>\n\n- a\n- [b](https://x.io)")).toBe(
      '<h1>Title</h1>\n<p>Some <strong>bold</strong> and &lt;b&gt;raw&lt;/b&gt;</p>\n<ul>\n<li>a</li>\n<li><a href="https://x.io" target="_blank" rel="noreferrer">b</a></li>\n</ul>',
    );
  });
  it("sanitizes html mode", () => {
    expect(sanitizeHtml('<div onclick="x()">a<script>alert(1)</script><a href="javascript:evil()">l</a></div>')).toBe('<div>a<a href="#">l</a></div>');
  });
});
