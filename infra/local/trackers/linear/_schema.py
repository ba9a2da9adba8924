"""The part of Linear's GraphQL schema the sandbox serves, in SDL, and the executable schema built from it.

Every type, field, argument and input below is spelled as in Linear's published SDL (``linear/linear``
``packages/sdk/src/schema.graphql``, shared/specs/linear.schema.graphql); a test holds each field's type
equal to Linear's (``tests/unit/sandbox/test_linear_sandbox.py``). A document asking for anything else is
refused as Linear refuses it: ``GRAPHQL_VALIDATION_FAILED`` on a 400. graphql-core (already a locked
dependency, through schemathesis) parses, validates and executes: a hand-written parser would accept what
Linear rejects.
"""

from __future__ import annotations

from graphql import GraphQLSchema, build_schema

SDL = """
scalar DateTime
scalar DateTimeOrDuration

enum PaginationOrderBy { createdAt updatedAt }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type User {
  id: ID!
  name: String!
  displayName: String!
  email: String!
  active: Boolean!
}
type UserConnection { nodes: [User!]! pageInfo: PageInfo! }

type WorkflowState {
  id: ID!
  name: String!
  type: String!
  position: Float!
  color: String!
}
type WorkflowStateConnection { nodes: [WorkflowState!]! pageInfo: PageInfo! }

type IssueLabel { id: ID! name: String! color: String! }
type IssueLabelConnection { nodes: [IssueLabel!]! pageInfo: PageInfo! }

type Team {
  id: ID!
  key: String!
  name: String!
  states(first: Int, after: String): WorkflowStateConnection!
  members(first: Int, after: String): UserConnection!
}
type TeamConnection { nodes: [Team!]! pageInfo: PageInfo! }

type Issue {
  id: ID!
  identifier: String!
  number: Float!
  title: String!
  description: String
  priority: Float!
  priorityLabel: String!
  url: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  state: WorkflowState!
  assignee: User
  creator: User
  team: Team!
  labels(first: Int, after: String): IssueLabelConnection!
  comments(first: Int, after: String, orderBy: PaginationOrderBy): CommentConnection!
}
type IssueConnection { nodes: [Issue!]! pageInfo: PageInfo! }

type Comment {
  id: ID!
  body: String!
  url: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  user: User
  issue: Issue
  issueId: String
}
type CommentConnection { nodes: [Comment!]! pageInfo: PageInfo! }

type Webhook {
  id: ID!
  url: String
  label: String
  enabled: Boolean!
  resourceTypes: [String!]!
}

input StringComparator {
  eq: String
  neq: String
  in: [String!]
  nin: [String!]
  contains: String
  containsIgnoreCase: String
  startsWith: String
}
input IDComparator { eq: ID neq: ID in: [ID!] nin: [ID!] }
input IssueIDComparator { eq: ID neq: ID in: [ID!] nin: [ID!] }
input DateComparator {
  eq: DateTimeOrDuration
  gt: DateTimeOrDuration
  gte: DateTimeOrDuration
  lt: DateTimeOrDuration
  lte: DateTimeOrDuration
}
input NumberComparator { eq: Float gt: Float gte: Float lt: Float lte: Float in: [Float!] }
input ContentComparator { contains: String notContains: String }

input TeamFilter { id: IDComparator key: StringComparator name: StringComparator }
input WorkflowStateFilter { id: IDComparator name: StringComparator type: StringComparator }
input IssueFilter {
  and: [IssueFilter!]
  or: [IssueFilter!]
  id: IssueIDComparator
  number: NumberComparator
  title: StringComparator
  searchableContent: ContentComparator
  team: TeamFilter
  state: WorkflowStateFilter
  createdAt: DateComparator
  updatedAt: DateComparator
}
input NullableIssueFilter {
  id: IssueIDComparator
  number: NumberComparator
  team: TeamFilter
  state: WorkflowStateFilter
}
input CommentFilter {
  and: [CommentFilter!]
  or: [CommentFilter!]
  id: IDComparator
  issue: NullableIssueFilter
  createdAt: DateComparator
  updatedAt: DateComparator
}
input IssueLabelFilter { id: IDComparator name: StringComparator }

input IssueCreateInput {
  teamId: String!
  title: String
  description: String
  priority: Int
  stateId: String
  assigneeId: String
  labelIds: [String!]
}
input IssueUpdateInput {
  title: String
  description: String
  priority: Int
  stateId: String
  assigneeId: String
  labelIds: [String!]
  addedLabelIds: [String!]
  removedLabelIds: [String!]
}
input CommentCreateInput { issueId: String body: String }
input IssueLabelCreateInput { name: String! teamId: String color: String description: String }
input WebhookCreateInput {
  url: String!
  resourceTypes: [String!]!
  teamId: String
  allPublicTeams: Boolean
  secret: String
  label: String
  enabled: Boolean = true
}

type IssuePayload { lastSyncId: Float! issue: Issue success: Boolean! }
type CommentPayload { lastSyncId: Float! comment: Comment! success: Boolean! }
type IssueLabelPayload { lastSyncId: Float! issueLabel: IssueLabel! success: Boolean! }
type WebhookPayload { lastSyncId: Float! webhook: Webhook! success: Boolean! }
type DeletePayload { lastSyncId: Float! success: Boolean! entityId: String! }
type IssueArchivePayload { lastSyncId: Float! success: Boolean! }

type Query {
  viewer: User!
  issue(id: String!): Issue!
  issues(
    filter: IssueFilter
    first: Int
    after: String
    orderBy: PaginationOrderBy
    includeArchived: Boolean
  ): IssueConnection!
  comment(id: String, hash: String): Comment!
  comments(
    filter: CommentFilter
    first: Int
    after: String
    orderBy: PaginationOrderBy
    includeArchived: Boolean
  ): CommentConnection!
  teams(filter: TeamFilter, first: Int, after: String): TeamConnection!
  issueLabels(filter: IssueLabelFilter, first: Int, after: String): IssueLabelConnection!
}

type Mutation {
  issueCreate(input: IssueCreateInput!): IssuePayload!
  issueUpdate(id: String!, input: IssueUpdateInput!): IssuePayload!
  issueDelete(id: String!, permanentlyDelete: Boolean): IssueArchivePayload!
  commentCreate(input: CommentCreateInput!): CommentPayload!
  commentDelete(id: String!): DeletePayload!
  issueLabelCreate(input: IssueLabelCreateInput!): IssueLabelPayload!
  webhookCreate(input: WebhookCreateInput!): WebhookPayload!
  webhookDelete(id: String!): DeletePayload!
}
"""

SCHEMA: GraphQLSchema = build_schema(SDL)

__all__ = ["SCHEMA", "SDL"]
