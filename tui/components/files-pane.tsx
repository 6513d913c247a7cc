import { Text } from "ink";
import { fit, fitPath, formatBytes } from "../format.ts";
import { type FileCell, type FileRow, type FilesModel, hashColumnWidth } from "../model/files-model.ts";
import { PaneFrame, windowOf } from "./pane-frame.tsx";
import { useColor, useGlyphs } from "./theme.tsx";

interface Props {
  model: FilesModel;
  width: number;
  height: number;
  focused: boolean;
  scroll: number;
  filter: string;
}

const SIZE = 8;
const STATUS = 10;
const PATH_MIN = 14;

/** PATH, SIZE, one short-hash column per node (as many as fit), STATUS. */
export function fileColumns(width: number, nodes: number) {
  const hash = hashColumnWidth(width, nodes, PATH_MIN + 1 + SIZE + 1 + STATUS);
  const nodeCols = hash > 0 ? nodes * (hash + 1) : 0;
  const path = Math.max(PATH_MIN, width - nodeCols - SIZE - 1 - STATUS - 1);
  return { path, size: SIZE, hash, status: STATUS };
}

export function FilesPane({ model, width, height, focused, scroll, filter }: Props) {
  const color = useColor();
  const g = useGlyphs();
  const c = fileColumns(width, model.nodes.length);
  const { shown, hint } = windowOf(model.rows, scroll, height - 2);
  const heads = c.hash > 0 ? model.nodes.map((n) => `${fit(n, c.hash)} `).join("") : "";
  const head = `${fit("PATH", c.path)} ${fit("SIZE", c.size, "right")} ${heads}${fit(c.hash > 0 ? "ALL NODES" : "AGREE", c.status)}`;
  const summary =
    model.total === 0
      ? "no files yet"
      : `${model.agreed}/${model.total} agreed${model.differing ? ` ${g.dot} ${model.differing} converging` : ""}${filter ? ` ${g.dot} filter "${filter}"` : ""}`;
  const cell = (x: FileCell) => {
    const text = x.state === "unknown" ? "?" : x.hash === null ? "-" : x.hash;
    return (
      <Text
        key={x.node}
        color={color(x.state === "differs" ? "red" : x.state === "same" ? "gray" : "yellow")}
        inverse={x.state === "differs"}
        dimColor={x.state === "unknown"}
      >
        {fit(text.slice(0, c.hash), c.hash)}
      </Text>
    );
  };
  const status = (r: FileRow) => {
    // "agreed" only when every member has it; with members down or unknown, how many agree.
    if (r.state === "agreed")
      return r.known === r.cells.length ? `${g.agreed} agreed` : `${g.agreed} ${r.agree}/${r.cells.length}`;
    if (r.state === "differs") return `${g.differs} differ`;
    if (r.state === "partial") return `${g.partial} ${r.agree}/${r.known}`;
    return "? unknown";
  };
  return (
    <PaneFrame
      title={`Files (${model.total})`}
      info={[summary, hint].filter(Boolean).join(` ${g.dot} `)}
      focused={focused}
      width={width}
      height={height}
    >
      <Text dimColor wrap="truncate">
        {fit(head, width)}
      </Text>
      {shown.map((r) => {
        const busy = r.state === "differs" || r.state === "partial";
        return (
          <Text key={r.path} wrap="truncate">
            <Text bold={busy} color={color(busy ? "yellow" : "white")}>{`${fitPath(r.path, c.path)} `}</Text>
            <Text>{`${fit(formatBytes(r.size), c.size, "right")} `}</Text>
            {c.hash > 0 ? r.cells.flatMap((x) => [cell(x), <Text key={`${x.node}-sp`}> </Text>]) : null}
            <Text
              bold
              color={color(r.state === "agreed" ? "green" : r.state === "differs" ? "red" : "yellow")}
              inverse={r.state === "differs"}
            >
              {fit(c.hash > 0 ? status(r) : `${r.agree}/${r.known} ${status(r)}`, c.status)}
            </Text>
          </Text>
        );
      })}
      {model.rows.length === 0 ? (
        <Text dimColor>{fit(filter ? `no file matches "${filter}"` : "no files yet", width)}</Text>
      ) : null}
    </PaneFrame>
  );
}
