namespace Zk.Embedded.Recipes;

/// <summary>Where a held lease (a lock, a leadership term) stands, in the words of Curator's connection states.</summary>
public enum HoldState
{
    /// <summary>Held, and the session is connected.</summary>
    Held,

    /// <summary>
    /// The connection is lost; the session may still live and the node with it. Another holder cannot have taken over
    /// before the session timeout passes, but this process cannot know how much of it passed: stop work that must not
    /// overlap, or guard it with the fencing token.
    /// </summary>
    Suspended,

    /// <summary>Gone for good: the session expired or was closed, the node was deleted, or no contact for the session timeout.</summary>
    Lost,

    /// <summary>Given up by its holder.</summary>
    Released,
}
