package app

// ResetBurst is how many stream resets an HTTP/2 connection may send at
// once, for the external tests.
const ResetBurst = resetBurst
