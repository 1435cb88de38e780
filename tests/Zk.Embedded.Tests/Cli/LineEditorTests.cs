using Zk.Server.Cli;

namespace Zk.Embedded.Tests.Cli;

/// <summary>The interactive shell edits lines and recalls history the way zkCli's JLine does.</summary>
public sealed class LineEditorTests
{
    private static ConsoleKeyInfo Key(ConsoleKey key) => new('\0', key, false, false, false);

    private static ConsoleKeyInfo Char(char c) => new(c, ConsoleKey.A, false, false, false);

    private static string Type(LineEditor editor, string text)
    {
        foreach (var c in text)
        {
            editor.Apply(Char(c));
        }

        return editor.Text;
    }

    [Fact]
    public void Typing_moving_and_deleting_edit_the_line_at_the_cursor()
    {
        var editor = new LineEditor([]);
        Assert.Equal("ls /", Type(editor, "ls /"));
        editor.Apply(Key(ConsoleKey.Home));
        editor.Apply(Key(ConsoleKey.Delete));
        editor.Apply(Key(ConsoleKey.Delete));
        Assert.Equal(" /", editor.Text);
        Assert.Equal("get /", Type(editor, "get"));
        editor.Apply(Key(ConsoleKey.End));
        editor.Apply(Key(ConsoleKey.Backspace));
        editor.Apply(Key(ConsoleKey.Backspace));
        editor.Apply(Key(ConsoleKey.LeftArrow));
        Assert.Equal("get", editor.Text);
        Assert.Equal(2, editor.Cursor);
        Assert.False(editor.Apply(Key(ConsoleKey.RightArrow)));
        Assert.Equal(3, editor.Cursor);
        Assert.True(editor.Apply(Key(ConsoleKey.Enter)));
    }

    [Fact]
    public void Up_and_down_walk_the_history_and_come_back_to_the_draft()
    {
        var editor = new LineEditor(["create /a", "get /a"]);
        Type(editor, "ls");
        editor.Apply(Key(ConsoleKey.UpArrow));
        Assert.Equal("get /a", editor.Text);
        editor.Apply(Key(ConsoleKey.UpArrow));
        Assert.Equal("create /a", editor.Text);
        editor.Apply(Key(ConsoleKey.UpArrow));
        Assert.Equal("create /a", editor.Text);
        editor.Apply(Key(ConsoleKey.DownArrow));
        Assert.Equal("get /a", editor.Text);
        editor.Apply(Key(ConsoleKey.DownArrow));
        Assert.Equal("ls", editor.Text);
    }
}
