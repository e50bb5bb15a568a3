// Silences through the Alertmanager API v2 the binary serves (with --alertmanager.config.file):
// list by state, create from matchers (`name="value"`, `name=~"re"`, `!=`, `!~`), expire.

import { useState } from "preact/hooks";
import { ApiError, createSilence, expireSilence, listSilences, type Matcher, type Silence } from "../lib/api";
import { setQuery, useLocation } from "../lib/router";
import { parseDuration, formatDateTime } from "../lib/time";
import { Badge, Button, ButtonGroup, Callout, DataTable, Modal, Spinner, ago, toast, useAsync } from "../components/ui";
import { matcherText, parseMatcher } from "../lib/matchers";

export function Silences(props: { tick: number }) {
  const { query } = useLocation();
  const state = query.get("state") ?? "active";
  const creating = query.get("new") === "1";
  const { data, error, loading, reload } = useAsync(() => listSilences(), [props.tick]);
  const notServed = error && /404|not found/i.test(error);
  const shown = (data ?? []).filter((s) => s.status.state === state).sort((a, b) => b.startsAt.localeCompare(a.startsAt));
  const expire = async (s: Silence) => {
    try {
      await expireSilence(s.id);
      toast("Silence expired");
      reload();
    } catch (e) {
      toast((e as Error).message, "error");
    }
  };
  return (
    <div class="page">
      <div class="row">
        <ButtonGroup
          value={state}
          options={["active", "pending", "expired"].map((v) => ({ value: v, label: `${v[0].toUpperCase()}${v.slice(1)} (${(data ?? []).filter((s) => s.status.state === v).length})` }))}
          onChange={(v) => setQuery({ state: v === "active" ? undefined : v })}
        />
        {loading && <Spinner />}
        <span class="grow" />
        <Button variant="primary" onClick={() => setQuery({ new: "1" }, false)} data-testid="new-silence" disabled={!!notServed}>
          New silence
        </Button>
      </div>
      {notServed ? (
        <Callout kind="info">The built-in Alertmanager is not running: start the server with --alertmanager.config.file to manage silences here.</Callout>
      ) : (
        error && <Callout kind="error">{error}</Callout>
      )}
      <section class="card" data-testid="silences">
        <DataTable
          columns={[
            { key: "matchers", title: "Matchers", render: (s) => <div class="labels">{s.matchers.map((m) => <span class="label-chip" key={m.name}>{matcherText(m)}</span>)}</div> },
            { key: "state", title: "State", render: (s) => <Badge kind={s.status.state === "active" ? "active-silence" : s.status.state === "pending" ? "pending" : "expired"}>{s.status.state}</Badge> },
            { key: "starts", title: "Starts", render: (s) => formatDateTime(Date.parse(s.startsAt)), sortValue: (s) => s.startsAt },
            { key: "ends", title: "Ends", render: (s) => `${formatDateTime(Date.parse(s.endsAt))} (${ago(s.endsAt)})`, sortValue: (s) => s.endsAt },
            { key: "by", title: "Created by", render: (s) => s.createdBy },
            { key: "comment", title: "Comment", render: (s) => s.comment },
            { key: "actions", title: "", render: (s) => s.status.state !== "expired" && <Button size="sm" variant="danger" onClick={() => expire(s)}>Expire</Button> },
          ]}
          rows={shown}
          rowKey={(s) => s.id}
          empty={`No ${state} silences`}
        />
      </section>
      {creating && <NewSilence initial={query.getAll("matcher")} onDone={() => { setQuery({ new: undefined, matcher: undefined }, false); reload(); }} />}
    </div>
  );
}

function NewSilence(props: { initial: string[]; onDone: () => void }) {
  const [matchers, setMatchers] = useState<string[]>(props.initial.length ? props.initial : ['alertname=""']);
  const [duration, setDuration] = useState("2h");
  const [createdBy, setCreatedBy] = useState(localStorage.getItem("panoptes.user") ?? "");
  const [comment, setComment] = useState("");
  const [error, setError] = useState("");
  const submit = async () => {
    const parsed = matchers.filter((m) => m.trim()).map(parseMatcher);
    if (parsed.some((m) => m === null)) return setError('every matcher must look like name="value" (or =~, !=, !~)');
    if (parsed.length === 0) return setError("a silence needs at least one matcher");
    const ms = parseDuration(duration);
    if (!ms) return setError(`invalid duration "${duration}"`);
    if (!createdBy.trim()) return setError("say who creates the silence");
    if (!comment.trim()) return setError("a comment is required");
    const now = Date.now();
    try {
      localStorage.setItem("panoptes.user", createdBy);
      const r = await createSilence({ matchers: parsed as Matcher[], startsAt: new Date(now).toISOString(), endsAt: new Date(now + ms).toISOString(), createdBy, comment });
      toast(`Silence ${r.silenceID} created`);
      props.onDone();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  return (
    <Modal
      title="New silence"
      onClose={props.onDone}
      footer={
        <>
          <Button onClick={props.onDone}>Cancel</Button>
          <Button variant="primary" onClick={submit} data-testid="create-silence">
            Create
          </Button>
        </>
      }
    >
      <div class="field">
        <label>Matchers</label>
        {matchers.map((m, i) => (
          <div class="row nowrap" key={i}>
            <input class="input grow mono" value={m} data-testid="silence-matcher" onInput={(e) => setMatchers(matchers.map((x, j) => (j === i ? (e.target as HTMLInputElement).value : x)))} />
            <Button icon onClick={() => setMatchers(matchers.filter((_, j) => j !== i))} title="Remove matcher">
              ✕
            </Button>
          </div>
        ))}
        <div>
          <Button size="sm" onClick={() => setMatchers([...matchers, ""])}>
            Add matcher
          </Button>
        </div>
      </div>
      <div class="row">
        <div class="field">
          <label>Duration</label>
          <input class="input" value={duration} onInput={(e) => setDuration((e.target as HTMLInputElement).value)} style={{ width: "120px" }} />
        </div>
        <div class="field grow">
          <label>Created by</label>
          <input class="input" value={createdBy} data-testid="silence-author" onInput={(e) => setCreatedBy((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <div class="field">
        <label>Comment</label>
        <textarea class="input" rows={3} value={comment} data-testid="silence-comment" onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
      </div>
      {error && <Callout kind="error">{error}</Callout>}
    </Modal>
  );
}
