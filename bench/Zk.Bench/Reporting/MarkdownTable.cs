using System.Text;

namespace Zk.Bench.Reporting;

/// <summary>
/// A Markdown table built row by row, printed with aligned columns so it reads in a terminal and pastes into docs.
/// The first column (a label) is left-aligned, the others (numbers) right-aligned.
/// </summary>
internal sealed class MarkdownTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"Row has {cells.Length} cells, the table {headers.Length} columns.");
        }

        _rows.Add(cells);
    }

    public override string ToString()
    {
        var widths = new int[headers.Length];
        for (var c = 0; c < headers.Length; c++)
        {
            widths[c] = Math.Max(3, headers[c].Length);
            foreach (var row in _rows)
            {
                widths[c] = Math.Max(widths[c], row[c].Length);
            }
        }

        var text = new StringBuilder();
        AppendRow(text, headers, widths);
        text.Append('|');
        for (var c = 0; c < widths.Length; c++)
        {
            text.Append(c == 0 ? " :" : " ").Append('-', widths[c] - 1).Append(c == 0 ? " |" : ": |");
        }

        text.AppendLine();
        foreach (var row in _rows)
        {
            AppendRow(text, row, widths);
        }

        return text.ToString();
    }

    private static void AppendRow(StringBuilder text, string[] cells, int[] widths)
    {
        text.Append('|');
        for (var c = 0; c < cells.Length; c++)
        {
            text.Append(' ').Append(c == 0 ? cells[c].PadRight(widths[c]) : cells[c].PadLeft(widths[c])).Append(" |");
        }

        text.AppendLine();
    }
}
