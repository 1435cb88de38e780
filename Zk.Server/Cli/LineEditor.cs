using System.Text;

namespace Zk.Server.Cli;

/// <summary>
/// Line editing for the interactive shell, as zkCli's JLine gives it: left/right, home/end, backspace/delete, and
/// up/down through the history. The editing is a pure function of the keys (testable); <see cref="ReadLine"/> wires
/// it to the console.
/// </summary>
internal sealed class LineEditor(IReadOnlyList<string> history)
{
    private readonly StringBuilder _line = new();
    private int _cursor;
    private int _historyIndex = history.Count;
    private string _draft = "";

    public string Text => _line.ToString();

    public int Cursor => _cursor;

    /// <summary>Applies one key; true when the line is finished (Enter).</summary>
    public bool Apply(ConsoleKeyInfo key)
    {
        switch (key.Key)
        {
            case ConsoleKey.Enter:
                return true;
            case ConsoleKey.LeftArrow:
                _cursor = Math.Max(0, _cursor - 1);
                break;
            case ConsoleKey.RightArrow:
                _cursor = Math.Min(_line.Length, _cursor + 1);
                break;
            case ConsoleKey.Home:
                _cursor = 0;
                break;
            case ConsoleKey.End:
                _cursor = _line.Length;
                break;
            case ConsoleKey.Backspace when _cursor > 0:
                _line.Remove(--_cursor, 1);
                break;
            case ConsoleKey.Delete when _cursor < _line.Length:
                _line.Remove(_cursor, 1);
                break;
            case ConsoleKey.UpArrow when _historyIndex > 0:
                if (_historyIndex == history.Count)
                {
                    _draft = Text;
                }

                Replace(history[--_historyIndex]);
                break;
            case ConsoleKey.DownArrow when _historyIndex < history.Count:
                _historyIndex++;
                Replace(_historyIndex == history.Count ? _draft : history[_historyIndex]);
                break;
            default:
                if (!char.IsControl(key.KeyChar))
                {
                    _line.Insert(_cursor++, key.KeyChar);
                }

                break;
        }

        return false;
    }

    /// <summary>Reads a line from the console with editing; null at end of input.</summary>
    public static string? ReadLine(string prompt, IReadOnlyList<string> history)
    {
        if (Console.IsInputRedirected)
        {
            Console.Write(prompt);
            return Console.ReadLine();
        }

        var editor = new LineEditor(history);
        Console.Write(prompt);
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.D && key.Modifiers == ConsoleModifiers.Control && editor.Text.Length == 0)
            {
                Console.WriteLine();
                return null;
            }

            var done = editor.Apply(key);
            // Redraw the line: simple and correct for any edit.
            Console.Write("\r" + prompt + editor.Text + "\u001b[K");
            Console.Write("\r" + prompt + editor.Text[..editor.Cursor]);
            if (done)
            {
                Console.WriteLine();
                return editor.Text;
            }
        }
    }

    private void Replace(string text)
    {
        _line.Clear().Append(text);
        _cursor = _line.Length;
    }
}
