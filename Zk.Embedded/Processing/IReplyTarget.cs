namespace Zk.Embedded.Processing;

/// <summary>Receives the reply to one pipeline request.</summary>
internal interface IReplyTarget
{
    void Complete(in Reply reply);
}
