import { createContext, type ReactNode, useContext } from "react";

/** Colours and glyphs. Without colour (NO_COLOR) every state still reads from words, bold and inverse. */
export interface Theme {
  color: boolean;
  unicode: boolean;
}

export interface Glyphs {
  agreed: string;
  differs: string;
  partial: string;
  barFull: string;
  barEmpty: string;
  dot: string;
  arrow: string;
}

const UNICODE: Glyphs = {
  agreed: "✓",
  differs: "≠",
  partial: "…",
  barFull: "█",
  barEmpty: "░",
  dot: "·",
  arrow: "→",
};
const ASCII: Glyphs = {
  agreed: "=",
  differs: "!",
  partial: "~",
  barFull: "#",
  barEmpty: ".",
  dot: "|",
  arrow: ">",
};

/** NO_COLOR (no-color.org): present and not empty disables colour. Unicode glyphs when the locale says UTF-8. */
export function themeFromEnv(env: Record<string, string | undefined> = process.env): Theme {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || "";
  return { color: !noColor && env.TERM !== "dumb", unicode: /utf-?8/i.test(locale) };
}

const ThemeContext = createContext<Theme>({ color: true, unicode: true });

export function ThemeProvider({ theme, children }: { theme: Theme; children: ReactNode }) {
  return <ThemeContext.Provider value={theme}>{children}</ThemeContext.Provider>;
}

export function useTheme(): Theme {
  return useContext(ThemeContext);
}

export function useGlyphs(): Glyphs {
  return useContext(ThemeContext).unicode ? UNICODE : ASCII;
}

/** A colour prop only when colour is on (Ink passes undefined through as "no colour"). */
export function useColor(): (c: string) => string | undefined {
  const { color } = useTheme();
  return (c) => (color ? c : undefined);
}
